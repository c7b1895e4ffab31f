;; desc: an unsafe branch that a constant rules out
;; prog: kprobe
;; expect: accept
mov %r1, 5
jgt %r1, 10, bad
mov %r0, 0
exit
bad:
ldxdw %r0, [%r10+8]
exit
