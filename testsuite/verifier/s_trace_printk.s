;; desc: trace_printk with a format on the stack
;; prog: kprobe
;; expect: accept
stdw [%r10-8], 0
stw [%r10-8], 0x0a6968
mov %r1, %r10
add %r1, -8
mov %r2, 4
call 6
mov %r0, 0
exit
