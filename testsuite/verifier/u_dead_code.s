;; desc: an instruction nothing reaches
;; prog: kprobe
;; expect: reject
;; error: unreachable
mov %r0, 0
exit
mov %r0, 1
exit
