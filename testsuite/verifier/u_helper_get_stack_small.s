;; desc: get_stack writes 64 bytes into an 8-byte map value
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
mov %r6, %r1
call 1
jeq %r0, 0, out
mov %r2, %r0
mov %r1, %r6
mov %r3, 64
mov %r4, 0
call 67
out:
mov %r0, 0
exit
