;; desc: spills a constant, fills it, uses it as an offset
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
stdw [%r10-16], 4
ldxdw %r1, [%r10-16]
add %r0, %r1
ldxw %r0, [%r0+0]
exit
out:
mov %r0, 0
exit
