;; desc: probe_read_kernel into a stack buffer, then reads it
;; prog: kprobe
;; expect: accept
ldxdw %r3, [%r1+112]
mov %r1, %r10
add %r1, -16
mov %r2, 16
call 113
ldxdw %r0, [%r10-16]
exit
