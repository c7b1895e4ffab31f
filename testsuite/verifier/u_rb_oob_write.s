;; desc: writes byte 16 of a 16-byte record
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, out
stb [%r0+16], 1
mov %r1, %r0
mov %r2, 0
call 132
out:
mov %r0, 0
exit
