;; desc: callback increments a caller counter used as an index afterwards
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
stdw [%r10-16], 0
mov %r1, 100
lddw %r2, func:cb
mov %r3, %r10
add %r3, -16
mov %r4, 0
call 181
ldxdw %r1, [%r10-16]
add %r6, %r1
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
cb:
ldxdw %r3, [%r2+0]
add %r3, 1
stxdw [%r2+0], %r3
mov %r0, 0
exit
