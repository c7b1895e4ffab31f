;; desc: if (i < n) with n = 8 in a register
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
call 7
mov %r2, 8
jge %r0, %r2, out
add %r6, %r0
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
