;; desc: jset not taken clears bits: i & 0xf8 == 0 means i < 8
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
and %r0, 255
jset %r0, 248, out
add %r6, %r0
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
