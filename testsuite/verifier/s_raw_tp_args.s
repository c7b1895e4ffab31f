;; desc: raw tracepoint reads args 0 and 11
;; prog: raw_tracepoint
;; expect: accept
ldxdw %r2, [%r1+0]
ldxdw %r0, [%r1+88]
add %r0, %r2
exit
