;; desc: map_lookup_elem on a ringbuf
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
;; error: cannot pass map_type
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:rb
call 1
mov %r0, 0
exit
