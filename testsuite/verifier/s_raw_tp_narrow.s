;; desc: raw tracepoint reads the low 4 bytes of arg 0
;; prog: raw_tracepoint
;; expect: accept
ldxw %r0, [%r1+0]
exit
