;; desc: 32-bit add on a stack pointer
;; prog: kprobe
;; expect: reject
;; error: 32-bit
mov %r1, %r10
add32 %r1, -8
stdw [%r1+0], 0
mov %r0, 0
exit
