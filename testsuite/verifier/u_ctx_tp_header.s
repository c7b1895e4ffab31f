;; desc: tracepoint reads the hidden common header at 0
;; prog: tracepoint
;; expect: reject
ldxdw %r0, [%r1+0]
exit
