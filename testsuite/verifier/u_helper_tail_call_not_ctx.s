;; desc: tail_call with r1 a stack pointer
;; prog: kprobe
;; map: pa prog_array key=4 value=4 entries=2
;; expect: reject
mov %r1, %r10
lddw %r2, map:pa
mov %r3, 0
call 12
mov %r0, 0
exit
