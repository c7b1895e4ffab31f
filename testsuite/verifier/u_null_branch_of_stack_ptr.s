;; desc: the kernel explores the NULL branch of a stack pointer comparison, which reads above the frame
;; prog: kprobe
;; expect: reject
mov %r1, %r10
jeq %r1, 0, bad
mov %r0, 0
exit
bad:
ldxdw %r0, [%r10+8]
exit
