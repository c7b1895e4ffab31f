;; desc: an unsafe branch ruled out by a mask
;; prog: kprobe
;; expect: accept
ldxdw %r1, [%r1+112]
and %r1, 15
jgt %r1, 15, bad
mov %r0, 0
exit
bad:
ldxdw %r0, [%r10+8]
exit
