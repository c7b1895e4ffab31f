;; desc: read before the context
;; prog: kprobe
;; expect: reject
ldxdw %r0, [%r1-8]
exit
