;; desc: spills a nullable pointer, fills it, checks the fill
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
stxdw [%r10-16], %r0
ldxdw %r1, [%r10-16]
jeq %r1, 0, out
ldxdw %r0, [%r1+0]
exit
out:
mov %r0, 0
exit
