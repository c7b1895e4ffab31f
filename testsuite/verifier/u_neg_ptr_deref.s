;; desc: negates a stack pointer (it becomes a number) and dereferences it
;; prog: kprobe
;; expect: reject
;; error: invalid mem access 'scalar'
mov %r1, %r10
neg %r1
ldxdw %r0, [%r1+0]
exit
