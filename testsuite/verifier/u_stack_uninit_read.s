;; desc: reads a stack slot never written
;; prog: kprobe
;; expect: reject
;; kernel: accept
;; reason: the root kernel lets privileged programs read uninitialised stack (allow_uninit_stack); bpfc refuses because the bytes would differ between engines and runs
;; error: never written
ldxdw %r0, [%r10-8]
exit
