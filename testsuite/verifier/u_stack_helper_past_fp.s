;; desc: probe_read writes 16 bytes starting at fp-8
;; prog: kprobe
;; expect: reject
mov %r3, 0
mov %r1, %r10
add %r1, -8
mov %r2, 16
call 113
mov %r0, 0
exit
