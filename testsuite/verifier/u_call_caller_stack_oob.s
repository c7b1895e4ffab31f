;; desc: callee writes above the caller's frame
;; prog: kprobe
;; expect: reject
stdw [%r10-8], 0
mov %r1, %r10
add %r1, -8
call local f
mov %r0, 0
exit
f:
stdw [%r1+8], 1
mov %r0, 0
exit
