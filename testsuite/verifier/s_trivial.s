;; desc: returns 0
;; prog: kprobe
;; expect: accept
mov %r0, 0
exit
