;; desc: a bpf_loop callback returns 2
;; prog: kprobe
;; expect: reject
;; error: [0, 1]
mov %r1, 4
lddw %r2, func:cb
mov %r3, 0
mov %r4, 0
call 181
mov %r0, 0
exit
cb:
mov %r0, 2
exit
