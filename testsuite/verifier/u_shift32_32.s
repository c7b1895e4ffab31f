;; desc: 32-bit shift by 32
;; prog: kprobe
;; expect: reject
;; error: invalid shift
mov %r0, 1
rsh32 %r0, 32
exit
