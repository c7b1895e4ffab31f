;; desc: stores a stack pointer into a map value
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; kernel: accept
;; reason: the root kernel allows pointer leaks (allow_ptr_leaks); bpfc refuses to hand host addresses to maps or callers
;; error: leak
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
stxdw [%r0+0], %r10
out:
mov %r0, 0
exit
