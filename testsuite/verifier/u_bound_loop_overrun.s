;; desc: loop i = 0..8 inclusive reads value[i] of 8 bytes
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
mov %r7, 0
mov %r8, 0
loop:
mov %r2, %r6
add %r2, %r7
ldxb %r3, [%r2+0]
add %r8, %r3
add %r7, 1
jle %r7, 8, loop
mov %r0, %r8
exit
out:
mov %r0, 0
exit
