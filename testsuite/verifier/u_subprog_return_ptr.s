;; desc: a subprogram returns a stack pointer
;; prog: kprobe
;; expect: reject
;; error: not a scalar
call local f
mov %r0, 0
exit
f:
mov %r0, %r10
exit
