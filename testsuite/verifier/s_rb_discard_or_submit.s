;; desc: discard on one path, submit on the other
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: accept
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, out
mov %r6, %r0
call 7
jgt %r0, 5, drop
mov %r1, %r6
mov %r2, 0
call 132
mov %r0, 0
exit
drop:
mov %r1, %r6
mov %r2, 0
call 133
out:
mov %r0, 0
exit
