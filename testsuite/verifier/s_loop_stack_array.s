;; desc: fills an 8-element array on the stack with a variable index
;; prog: kprobe
;; expect: accept
mov %r1, 0
loop:
mov %r2, %r1
lsh %r2, 3
mov %r3, %r10
add %r3, -64
add %r3, %r2
stxdw [%r3+0], %r1
add %r1, 1
jlt %r1, 8, loop
ldxdw %r0, [%r10-8]
exit
