;; desc: raw tracepoint writes an argument
;; prog: raw_tracepoint
;; expect: reject
stdw [%r1+0], 1
mov %r0, 0
exit
