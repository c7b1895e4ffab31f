;; desc: map_update_elem with key and value on the stack
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 1
stdw [%r10-16], 2
mov %r2, %r10
add %r2, -8
mov %r3, %r10
add %r3, -16
mov %r4, 0
lddw %r1, map:m
call 2
mov %r0, 0
exit
