;; desc: looks up keys 0..3, stops at the first miss
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
mov %r6, 0
loop:
stxdw [%r10-8], %r6
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, done
add %r6, 1
jlt %r6, 4, loop
done:
mov %r0, %r6
exit
