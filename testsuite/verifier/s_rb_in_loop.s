;; desc: reserve and submit in each of 4 iterations
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: accept
mov %r6, 0
loop:
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, next
mov %r1, %r0
mov %r2, 0
call 132
next:
add %r6, 1
jlt %r6, 4, loop
mov %r0, 0
exit
