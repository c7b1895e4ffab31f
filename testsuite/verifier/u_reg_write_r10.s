;; desc: writes the frame pointer
;; prog: kprobe
;; expect: reject
;; error: frame pointer r10 is read only
mov %r10, 0
mov %r0, 0
exit
