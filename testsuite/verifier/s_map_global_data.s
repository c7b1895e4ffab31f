;; desc: direct access to a global variable (single-value array)
;; prog: kprobe
;; map: g array key=4 value=16 entries=1
;; expect: accept
lddw %r1, mapvalue:g+8
ldxdw %r0, [%r1+0]
add %r0, 1
stxdw [%r1+0], %r0
exit
