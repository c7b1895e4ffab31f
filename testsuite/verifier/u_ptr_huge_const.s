;; desc: adds 2^30 to a stack pointer
;; prog: kprobe
;; expect: reject
mov %r1, %r10
lddw %r2, 0x40000000
add %r1, %r2
mov %r0, 0
exit
