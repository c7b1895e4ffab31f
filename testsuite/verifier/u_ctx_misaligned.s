;; desc: 8-byte read at pt_regs+4
;; prog: kprobe
;; expect: reject
;; error: not a multiple
ldxdw %r0, [%r1+4]
exit
