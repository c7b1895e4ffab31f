;; desc: ktime_get_ns difference
;; prog: kprobe
;; expect: accept
call 5
mov %r6, %r0
call 5
sub %r0, %r6
exit
