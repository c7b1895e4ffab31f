;; desc: a stack pointer walks up to the frame pointer
;; prog: kprobe
;; expect: reject
mov %r2, %r10
add %r2, -64
loop:
stdw [%r2+0], 0
add %r2, 8
jne %r2, %r10, loop
stdw [%r2+0], 0
mov %r0, 0
exit
