;; desc: array lookup with a variable key, no NULL check
;; prog: kprobe
;; map: a array key=4 value=8 entries=4
;; expect: reject
ldxdw %r1, [%r1+112]
stxw [%r10-4], %r1
mov %r2, %r10
add %r2, -4
lddw %r1, map:a
call 1
ldxdw %r0, [%r0+0]
exit
