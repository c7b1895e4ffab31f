;; desc: uses the whole 512-byte frame
;; prog: kprobe
;; expect: accept
stdw [%r10-512], 1
stdw [%r10-8], 2
ldxdw %r0, [%r10-512]
exit
