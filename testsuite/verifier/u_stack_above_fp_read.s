;; desc: reads above the frame pointer
;; prog: kprobe
;; expect: reject
ldxdw %r0, [%r10+8]
exit
