;; desc: writes to the record without a NULL check
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
;; error: ringbuf_mem_or_null
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
stdw [%r0+0], 1
mov %r1, %r0
mov %r2, 0
call 132
mov %r0, 0
exit
