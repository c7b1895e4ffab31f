;; desc: tracepoint reads fields at 8 and 16
;; prog: tracepoint
;; expect: accept
ldxw %r2, [%r1+8]
ldxdw %r0, [%r1+16]
add %r0, %r2
exit
