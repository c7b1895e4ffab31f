;; desc: index in [-5, 5] by signed checks
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: negative
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
call 7
lsh %r0, 32
arsh %r0, 32
jsgt %r0, 5, out
jslt %r0, -5, out
add %r6, %r0
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
