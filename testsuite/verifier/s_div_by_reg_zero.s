;; desc: division by a register that may be zero (defined as 0)
;; prog: kprobe
;; expect: accept
ldxdw %r0, [%r1+112]
ldxdw %r2, [%r1+104]
div %r0, %r2
exit
