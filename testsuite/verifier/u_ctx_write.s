;; desc: kprobe writes pt_regs
;; prog: kprobe
;; expect: reject
;; error: read-only
mov %r2, 0
stxdw [%r1+0], %r2
mov %r0, 0
exit
