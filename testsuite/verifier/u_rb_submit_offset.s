;; desc: submits record+8
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
;; error: zero offset
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, out
mov %r1, %r0
add %r1, 8
mov %r2, 0
call 132
out:
mov %r0, 0
exit
