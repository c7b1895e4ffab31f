;; desc: callee reads r2 the caller never set
;; prog: kprobe
;; expect: reject
;; error: R2 !read_ok
mov %r1, 1
call local f
exit
f:
mov %r0, %r2
exit
