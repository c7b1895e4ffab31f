;; desc: stores an uninitialised register to the stack
;; prog: kprobe
;; expect: reject
;; error: R7 !read_ok
stxdw [%r10-8], %r7
mov %r0, 0
exit
