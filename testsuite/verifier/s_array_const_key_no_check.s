;; desc: array lookup with the constant key 0 (zeroed stack) is never NULL (Linux >= 6.14)
;; prog: kprobe
;; map: a array key=4 value=8 entries=4
;; expect: accept
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
lddw %r1, map:a
call 1
ldxdw %r0, [%r0+0]
exit
