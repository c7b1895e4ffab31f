;; desc: trace_printk with the context as format
;; prog: kprobe
;; expect: reject
mov %r2, 8
call 6
mov %r0, 0
exit
