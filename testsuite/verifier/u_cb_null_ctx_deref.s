;; desc: a callback dereferences a NULL context
;; prog: kprobe
;; expect: reject
mov %r1, 4
lddw %r2, func:cb
mov %r3, 0
mov %r4, 0
call 181
mov %r0, 0
exit
cb:
ldxdw %r0, [%r2+0]
mov %r0, 0
exit
