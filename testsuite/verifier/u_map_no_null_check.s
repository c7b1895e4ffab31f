;; desc: reads a lookup result without a NULL check
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: may be NULL
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
ldxdw %r0, [%r0+0]
exit
