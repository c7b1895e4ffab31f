;; desc: push then pop a queue
;; prog: kprobe
;; map: q queue key=0 value=8 entries=4
;; expect: accept
stdw [%r10-8], 7
lddw %r1, map:q
mov %r2, %r10
add %r2, -8
mov %r3, 0
call 87
lddw %r1, map:q
mov %r2, %r10
add %r2, -16
call 88
mov %r0, 0
exit
