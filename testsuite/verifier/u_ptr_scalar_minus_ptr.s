;; desc: number minus pointer
;; prog: kprobe
;; expect: reject
;; error: subtract pointer
mov %r1, 8
sub %r1, %r10
mov %r0, 0
exit
