;; desc: variable-offset read covering never-written slots
;; prog: kprobe
;; expect: reject
;; kernel: accept
;; reason: the root kernel lets privileged programs read uninitialised stack (allow_uninit_stack); bpfc refuses because the bytes would differ between engines and runs
ldxdw %r1, [%r1+112]
and %r1, 24
stdw [%r10-32], 0
mov %r2, %r10
add %r2, -32
add %r2, %r1
ldxdw %r0, [%r2+0]
exit
