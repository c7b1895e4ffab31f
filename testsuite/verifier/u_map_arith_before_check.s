;; desc: adds to the lookup result before the NULL check
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: null-check it first
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
add %r0, 4
jeq %r0, 0, out
ldxw %r0, [%r0+0]
exit
out:
mov %r0, 0
exit
