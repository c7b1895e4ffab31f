;; desc: ringbuf_output on a hash map
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: cannot pass map_type
stdw [%r10-8], 0
lddw %r1, map:m
mov %r2, %r10
add %r2, -8
mov %r3, 8
mov %r4, 0
call 130
mov %r0, 0
exit
