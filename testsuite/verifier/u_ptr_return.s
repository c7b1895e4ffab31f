;; desc: returns a stack pointer
;; prog: kprobe
;; expect: reject
;; kernel: accept
;; reason: the root kernel allows pointer leaks (allow_ptr_leaks); bpfc refuses to hand host addresses to maps or callers
;; error: leaks addr
mov %r0, %r10
exit
