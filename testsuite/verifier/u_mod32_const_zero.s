;; desc: 32-bit modulo by the constant 0
;; prog: kprobe
;; expect: reject
;; error: div by zero
mov %r0, 1
mod32 %r0, 0
exit
