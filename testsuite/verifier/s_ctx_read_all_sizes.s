;; desc: reads pt_regs with 1, 2, 4 and 8-byte aligned loads
;; prog: kprobe
;; expect: accept
ldxb %r2, [%r1+7]
ldxh %r3, [%r1+6]
ldxw %r4, [%r1+164]
ldxdw %r0, [%r1+160]
add %r0, %r2
add %r0, %r3
add %r0, %r4
exit
