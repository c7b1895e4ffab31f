;; desc: map_update_elem with r4 never set
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: R4 !read_ok
stdw [%r10-8], 0
stdw [%r10-16], 0
mov %r2, %r10
add %r2, -8
mov %r3, %r10
add %r3, -16
lddw %r1, map:m
call 2
mov %r0, 0
exit
