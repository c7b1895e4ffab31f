;; desc: dereferences ctx+8
;; prog: kprobe
;; expect: reject
;; error: modified ctx ptr
add %r1, 8
ldxdw %r0, [%r1+0]
exit
