;; desc: uses r1 (ctx) after a helper call clobbered it
;; prog: kprobe
;; expect: reject
;; error: R1 !read_ok
call 5
ldxdw %r0, [%r1+0]
exit
