;; desc: probe_read with size & 15 into a 16-byte buffer
;; prog: kprobe
;; expect: accept
ldxdw %r2, [%r1+104]
ldxdw %r3, [%r1+112]
and %r2, 15
mov %r1, %r10
add %r1, -16
call 113
mov %r0, 0
exit
