;; desc: shift by the constant 64
;; prog: kprobe
;; expect: reject
;; error: invalid shift
mov %r0, 1
lsh %r0, 64
exit
