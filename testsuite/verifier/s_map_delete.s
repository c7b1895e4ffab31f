;; desc: map_delete_elem
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 1
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 3
mov %r0, 0
exit
