;; desc: update one map with a value looked up in another
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; map: m2 hash key=8 value=8 entries=4
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r3, %r0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m2
mov %r4, 0
call 2
out:
mov %r0, 0
exit
