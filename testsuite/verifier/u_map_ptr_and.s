;; desc: bitwise and on a value pointer
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: bitwise
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
and %r0, -8
ldxdw %r0, [%r0+0]
exit
out:
mov %r0, 0
exit
