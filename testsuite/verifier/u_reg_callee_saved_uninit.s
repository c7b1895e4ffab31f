;; desc: a subprogram reads r6 that its caller never set
;; prog: kprobe
;; expect: reject
;; error: R6 !read_ok
call local f
exit
f:
mov %r0, %r6
exit
