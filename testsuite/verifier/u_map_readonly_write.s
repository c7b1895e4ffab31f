;; desc: writes into a read-only (.rodata-like) map
;; prog: kprobe
;; map: ro array key=4 value=8 entries=1 readonly
;; expect: reject
;; error: read-only
lddw %r1, mapvalue:ro+0
stdw [%r1+0], 1
mov %r0, 0
exit
