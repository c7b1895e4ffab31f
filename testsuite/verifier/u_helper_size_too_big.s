;; desc: probe_read size bounded by 16 into an 8-byte buffer
;; prog: kprobe
;; expect: reject
ldxdw %r2, [%r1+112]
and %r2, 15
mov %r1, %r10
add %r1, -8
mov %r3, 0
call 113
mov %r0, 0
exit
