;; desc: reserve size is not a constant
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
;; error: constant
ldxdw %r2, [%r1+112]
and %r2, 63
lddw %r1, map:rb
mov %r3, 0
call 131
jeq %r0, 0, out
mov %r1, %r0
mov %r2, 0
call 133
out:
mov %r0, 0
exit
