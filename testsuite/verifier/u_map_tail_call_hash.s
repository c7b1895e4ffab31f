;; desc: tail_call through a hash map
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: cannot pass map_type
lddw %r2, map:m
mov %r3, 0
call 12
mov %r0, 0
exit
