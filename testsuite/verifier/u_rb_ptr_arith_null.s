;; desc: arithmetic on the unchecked record pointer
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
add %r0, 8
mov %r0, 0
exit
