;; desc: map_lookup_elem on a queue
;; prog: kprobe
;; map: q queue key=0 value=8 entries=4
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:q
call 1
mov %r0, 0
exit
