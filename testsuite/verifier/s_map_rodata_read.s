;; desc: reads a read-only global
;; prog: kprobe
;; map: ro array key=4 value=8 entries=1 readonly
;; expect: accept
lddw %r1, mapvalue:ro+0
ldxdw %r0, [%r1+0]
exit
