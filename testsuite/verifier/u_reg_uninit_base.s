;; desc: loads through an uninitialised register
;; prog: kprobe
;; expect: reject
;; error: R3 !read_ok
ldxdw %r0, [%r3+0]
exit
