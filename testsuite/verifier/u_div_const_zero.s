;; desc: division by the constant 0
;; prog: kprobe
;; expect: reject
;; error: div by zero
mov %r0, 1
div %r0, 0
exit
