;; desc: value[(i & 3) * 8] with 8-byte loads from a 32-byte value
;; prog: kprobe
;; map: m hash key=8 value=32 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
call 7
and %r0, 3
lsh %r0, 3
add %r6, %r0
ldxdw %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
