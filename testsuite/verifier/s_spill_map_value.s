;; desc: spills a checked value pointer across a helper call
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
stxdw [%r10-16], %r0
call 5
ldxdw %r1, [%r10-16]
ldxdw %r0, [%r1+0]
exit
out:
mov %r0, 0
exit
