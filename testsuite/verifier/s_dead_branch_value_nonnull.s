;; desc: a checked map value pointer is never NULL: the second check's NULL branch is dead
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
jeq %r0, 0, bad
ldxdw %r0, [%r0+0]
exit
bad:
ldxdw %r0, [%r10+8]
exit
out:
mov %r0, 0
exit
