;; desc: 8-byte store at fp-12
;; prog: kprobe
;; expect: reject
;; error: misaligned
mov %r1, 1
stxdw [%r10-12], %r1
mov %r0, 0
exit
