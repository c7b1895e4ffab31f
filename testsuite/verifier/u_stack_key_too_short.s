;; desc: 16-byte key but only fp-8..fp-1 is on the stack
;; prog: kprobe
;; map: k hash key=16 value=8 entries=4
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:k
call 1
mov %r0, 0
exit
