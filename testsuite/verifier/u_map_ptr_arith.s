;; desc: adds to a map pointer
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: map_ptr
lddw %r1, map:m
add %r1, 8
mov %r0, 0
exit
