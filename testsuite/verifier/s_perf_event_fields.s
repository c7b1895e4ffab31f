;; desc: perf_event reads a register and 4 bytes of sample_period
;; prog: perf_event
;; expect: accept
ldxdw %r2, [%r1+128]
ldxw %r0, [%r1+168]
add %r0, %r2
exit
