;; desc: get_stackid with a hash map
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
lddw %r2, map:m
mov %r3, 0
call 27
mov %r0, 0
exit
