;; desc: a function runs into the next one
;; prog: kprobe
;; expect: reject
call local f
exit
f:
mov %r0, 0
g:
mov %r0, 1
exit
h:
call local g
exit
