;; desc: atomic add on the context
;; prog: kprobe
;; expect: reject
mov %r2, 1
lock add [%r1+0], %r2
mov %r0, 0
exit
