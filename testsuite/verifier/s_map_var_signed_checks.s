;; desc: 0 <= i && i < 8 with signed compares
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
ldxdw %r7, [%r10-8]
call 7
jslt %r0, 0, out
jsge %r0, 8, out
add %r6, %r0
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
