;; desc: saves a pointer with a 4-byte store
;; prog: kprobe
;; expect: reject
;; error: invalid size of register spill
stxw [%r10-8], %r1
mov %r0, 0
exit
