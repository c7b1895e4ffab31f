;; desc: bpf_loop with a number as the callback
;; prog: kprobe
;; expect: reject
mov %r1, 4
mov %r2, 0
mov %r3, 0
mov %r4, 0
call 181
mov %r0, 0
exit
