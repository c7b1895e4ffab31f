;; desc: callee returns without setting r0
;; prog: kprobe
;; expect: reject
;; error: R0 !read_ok
call local f
exit
f:
mov %r1, 0
exit
