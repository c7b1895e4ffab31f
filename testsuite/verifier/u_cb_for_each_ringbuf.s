;; desc: for_each_map_elem over a ringbuf
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
lddw %r1, map:rb
lddw %r2, func:cb
mov %r3, 0
mov %r4, 0
call 164
mov %r0, 0
exit
cb:
mov %r0, 0
exit
