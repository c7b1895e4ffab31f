;; desc: reads the first argument (di) from pt_regs
;; prog: kprobe
;; expect: accept
ldxdw %r0, [%r1+112]
exit
