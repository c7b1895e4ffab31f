;; desc: adds to the frame pointer
;; prog: kprobe
;; expect: reject
;; error: frame pointer
add %r10, 8
mov %r0, 0
exit
