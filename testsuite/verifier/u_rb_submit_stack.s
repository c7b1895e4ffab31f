;; desc: submits a stack pointer
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
mov %r1, %r10
add %r1, -8
mov %r2, 0
call 132
mov %r0, 0
exit
