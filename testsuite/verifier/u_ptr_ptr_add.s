;; desc: adds two pointers
;; prog: kprobe
;; expect: reject
mov %r1, %r10
add %r1, %r10
mov %r0, 0
exit
