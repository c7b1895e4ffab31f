;; desc: direct value address past the value
;; prog: kprobe
;; map: g array key=4 value=8 entries=1
;; expect: reject
lddw %r1, mapvalue:g+8
mov %r0, 0
exit
