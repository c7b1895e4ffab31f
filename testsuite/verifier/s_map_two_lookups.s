;; desc: two lookups, each checked
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0

stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
ldxdw %r1, [%r0+0]
ldxdw %r2, [%r6+0]
add %r1, %r2
mov %r0, %r1
exit
out:
mov %r0, 0
exit
