;; desc: 4-byte store then 4-byte load
;; prog: kprobe
;; expect: accept
stw [%r10-8], 5
ldxw %r0, [%r10-8]
exit
