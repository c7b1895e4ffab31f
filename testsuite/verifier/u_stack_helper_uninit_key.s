;; desc: map key on stack never written
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; kernel: accept
;; reason: the root kernel lets privileged programs read uninitialised stack (allow_uninit_stack); bpfc refuses because the bytes would differ between engines and runs
;; error: never written
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
mov %r0, 0
exit
