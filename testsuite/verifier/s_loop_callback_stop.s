;; desc: a callback that stops the loop by returning 1
;; prog: kprobe
;; expect: accept
mov %r1, 10
lddw %r2, func:cb
mov %r3, 0
mov %r4, 0
call 181
mov %r0, 0
exit
cb:
mov %r0, 0
jlt %r1, 5, cont
mov %r0, 1
cont:
exit
