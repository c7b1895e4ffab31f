;; desc: atomic add on a read-only map value
;; prog: kprobe
;; map: ro array key=4 value=8 entries=1 readonly
;; expect: reject
lddw %r1, mapvalue:ro+0
mov %r2, 1
lock add [%r1+0], %r2
mov %r0, 0
exit
