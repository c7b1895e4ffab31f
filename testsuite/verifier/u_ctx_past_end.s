;; desc: kprobe reads pt_regs at offset 168
;; prog: kprobe
;; expect: reject
;; error: invalid bpf_context access
ldxdw %r0, [%r1+168]
exit
