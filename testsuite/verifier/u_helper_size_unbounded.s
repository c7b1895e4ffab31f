;; desc: probe_read size unbounded
;; prog: kprobe
;; expect: reject
ldxdw %r2, [%r1+112]
mov %r1, %r10
add %r1, -8
mov %r3, 0
call 113
mov %r0, 0
exit
