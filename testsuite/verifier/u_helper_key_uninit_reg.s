;; desc: map_lookup_elem with r2 never set
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: R2 !read_ok
lddw %r1, map:m
call 1
mov %r0, 0
exit
