;; desc: 4-byte load at fp-6
;; prog: kprobe
;; expect: reject
;; error: misaligned
stdw [%r10-8], 0
ldxw %r0, [%r10-6]
exit
