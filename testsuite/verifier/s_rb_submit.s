;; desc: reserve, check, fill, submit
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: accept
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, out
stdw [%r0+0], 1
stdw [%r0+8], 2
mov %r1, %r0
mov %r2, 0
call 132
out:
mov %r0, 0
exit
