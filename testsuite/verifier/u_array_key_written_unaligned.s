;; desc: array lookup whose key 3 was stored at fp-4 (not a tracked constant): may be NULL
;; prog: kprobe
;; map: a array key=4 value=8 entries=4
;; expect: reject
stw [%r10-4], 3
mov %r2, %r10
add %r2, -4
lddw %r1, map:a
call 1
ldxdw %r0, [%r0+0]
exit
