;; desc: ctx plus a bounded variable
;; prog: kprobe
;; expect: reject
ldxdw %r2, [%r1+112]
and %r2, 8
add %r1, %r2
ldxdw %r0, [%r1+0]
exit
