;; desc: ringbuf_output with an unbounded size
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
ldxdw %r3, [%r1+112]
stdw [%r10-8], 0
lddw %r1, map:rb
mov %r2, %r10
add %r2, -8
mov %r4, 0
call 130
mov %r0, 0
exit
