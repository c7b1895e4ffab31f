;; desc: raw tracepoint reads arg 12
;; prog: raw_tracepoint
;; expect: reject
ldxdw %r0, [%r1+96]
exit
