;; desc: tail call through a program array
;; prog: kprobe
;; map: pa prog_array key=4 value=4 entries=2
;; expect: accept
lddw %r2, map:pa
mov %r3, 0
call 12
mov %r0, 0
exit
