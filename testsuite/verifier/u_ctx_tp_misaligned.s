;; desc: tracepoint 4-byte read at 10
;; prog: tracepoint
;; expect: reject
ldxw %r0, [%r1+10]
exit
