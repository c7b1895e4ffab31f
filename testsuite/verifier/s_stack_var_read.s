;; desc: variable-offset read inside an initialised 32-byte area
;; prog: kprobe
;; expect: accept
stdw [%r10-32], 1
stdw [%r10-24], 2
stdw [%r10-16], 3
stdw [%r10-8], 4
ldxdw %r1, [%r1+112]
and %r1, 24
mov %r2, %r10
add %r2, -32
add %r2, %r1
ldxdw %r0, [%r2+0]
exit
