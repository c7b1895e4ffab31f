;; desc: passes the number 0 as the key pointer
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
mov %r2, 0
lddw %r1, map:m
call 1
mov %r0, 0
exit
