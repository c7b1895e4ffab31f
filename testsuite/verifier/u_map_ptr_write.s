;; desc: writes through a map pointer
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
lddw %r1, map:m
stdw [%r1+0], 0
mov %r0, 0
exit
