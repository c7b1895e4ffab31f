;; desc: a signed byte from the value, checked 0..7, used as index
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
ldxsb %r1, [%r0+0]
jslt %r1, 0, out
jsgt %r1, 7, out
add %r6, %r1
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
