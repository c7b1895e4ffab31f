;; desc: an unknown divided by 2^61 is below 8
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
;; kernel: reject
;; reason: bpfc tracks division and modulo by constants (sound, tested against concrete results); the kernel forgets the bounds
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
ldxdw %r0, [%r6+0]
lddw %r1, 0x2000000000000000
div %r0, %r1
add %r6, %r0
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
