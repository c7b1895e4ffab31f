;; desc: calls helper #9999
;; prog: kprobe
;; expect: reject
;; error: unknown
call 9999
mov %r0, 0
exit
