;; desc: variable-offset write inside the frame
;; prog: kprobe
;; expect: accept
ldxdw %r1, [%r1+112]
and %r1, 56
mov %r2, %r10
add %r2, -64
add %r2, %r1
stdw [%r2+0], 1
mov %r0, 0
exit
