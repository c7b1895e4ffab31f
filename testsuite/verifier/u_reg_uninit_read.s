;; desc: reads r2, never written
;; prog: kprobe
;; expect: reject
;; error: r2 is read before
mov %r0, %r2
exit
