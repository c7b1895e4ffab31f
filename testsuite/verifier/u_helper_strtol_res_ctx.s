;; desc: strtol result pointer is the context
;; prog: kprobe
;; expect: reject
stdw [%r10-8], 0
mov %r4, %r1
mov %r1, %r10
add %r1, -8
mov %r2, 8
mov %r3, 0
call 105
mov %r0, 0
exit
