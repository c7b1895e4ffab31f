;; desc: direct value address of a hash map
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
lddw %r1, mapvalue:m+0
mov %r0, 0
exit
