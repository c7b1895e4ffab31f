;; desc: probe_read into a map value
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: accept
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
mov %r6, %r1
call 1
jeq %r0, 0, out
mov %r1, %r0
mov %r2, 8
mov %r3, 0
call 113
out:
mov %r0, 0
exit
