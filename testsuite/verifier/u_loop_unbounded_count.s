;; desc: counts up to 2^32: exceeds the complexity limit
;; prog: kprobe
;; expect: reject
mov %r0, 0
mov %r1, 0
loop:
add %r1, 1
jne32 %r1, 0, loop
exit
