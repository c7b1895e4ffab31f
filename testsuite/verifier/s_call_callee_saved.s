;; desc: r6-r9 survive a call
;; prog: kprobe
;; expect: accept
mov %r6, 7
mov %r1, 1
call local f
mov %r0, %r6
exit
f:
mov %r6, 1
mov %r0, 0
exit
