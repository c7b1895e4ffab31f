;; desc: update value comes from a smaller map's value
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; map: big hash key=8 value=16 entries=4
;; expect: reject
;; error: invalid access to map value
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r3, %r0
mov %r2, %r10
add %r2, -8
lddw %r1, map:big
mov %r4, 0
call 2
out:
mov %r0, 0
exit
