;; desc: spills ctx across a helper call and reads through it
;; prog: kprobe
;; expect: accept
stxdw [%r10-8], %r1
call 5
ldxdw %r1, [%r10-8]
ldxdw %r0, [%r1+112]
exit
