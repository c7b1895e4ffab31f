;; desc: stack pointer plus an unknown number
;; prog: kprobe
;; expect: reject
;; error: unbounded min value
ldxdw %r1, [%r1+112]
mov %r2, %r10
add %r2, %r1
mov %r0, 0
exit
