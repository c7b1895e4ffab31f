;; desc: a function calls itself
;; prog: kprobe
;; expect: reject
mov %r1, 0
call local f
exit
f:
add %r1, 1
call local f
exit
