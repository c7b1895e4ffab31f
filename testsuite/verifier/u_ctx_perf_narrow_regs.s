;; desc: perf_event reads 4 bytes of pt_regs (the kernel allows only whole longs)
;; prog: perf_event
;; expect: reject
ldxw %r0, [%r1+0]
exit
