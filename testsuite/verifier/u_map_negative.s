;; desc: reads before the value
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
ldxdw %r0, [%r0-8]
exit
out:
mov %r0, 0
exit
