;; desc: tracepoint reads past PERF_MAX_TRACE_SIZE
;; prog: tracepoint
;; expect: reject
ldxdw %r0, [%r1+8192]
exit
