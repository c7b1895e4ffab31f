;; desc: atomic fetch-add returns the old value
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r1, 1
lock fetch add [%r0+0], %r1
mov %r0, %r1
exit
out:
mov %r0, 0
exit
