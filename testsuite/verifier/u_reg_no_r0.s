;; desc: exits without setting r0
;; prog: kprobe
;; expect: reject
;; error: R0 !read_ok
mov %r1, 0
exit
