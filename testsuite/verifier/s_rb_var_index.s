;; desc: writes record[i & 15] of a 16-byte record
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
and %r0, 15
mov %r1, %r6
add %r1, %r0
stb [%r1+0], 1
mov %r1, %r6
mov %r2, 0
call 132
out:
mov %r0, 0
exit
