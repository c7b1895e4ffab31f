;; desc: ringbuf_reserve on an array map
;; prog: kprobe
;; map: a array key=4 value=8 entries=4
;; expect: reject
;; error: cannot pass map_type
lddw %r1, map:a
mov %r2, 8
mov %r3, 0
call 131
mov %r0, 0
exit
