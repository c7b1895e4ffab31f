;; desc: NULL check on a copy makes the original safe too
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
mov %r6, %r0
jeq %r6, 0, out
ldxdw %r0, [%r0+0]
exit
out:
mov %r0, 0
exit
