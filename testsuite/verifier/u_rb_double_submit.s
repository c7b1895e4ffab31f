;; desc: submits the same record twice
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, out
mov %r6, %r0
mov %r1, %r6
mov %r2, 0
call 132
mov %r1, %r6
mov %r2, 0
call 132
out:
mov %r0, 0
exit
