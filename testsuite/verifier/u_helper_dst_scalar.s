;; desc: probe_read into address 0
;; prog: kprobe
;; expect: reject
mov %r1, 0
mov %r2, 8
mov %r3, 0
call 113
mov %r0, 0
exit
