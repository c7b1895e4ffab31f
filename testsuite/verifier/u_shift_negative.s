;; desc: shift by -1
;; prog: kprobe
;; expect: reject
;; error: invalid shift
mov %r0, 1
arsh %r0, -1
exit
