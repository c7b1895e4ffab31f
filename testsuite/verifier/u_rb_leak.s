;; desc: reserves and never submits
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
;; error: Unreleased reference
lddw %r1, map:rb
mov %r2, 16
mov %r3, 0
call 131
jeq %r0, 0, out
stdw [%r0+0], 1
out:
mov %r0, 0
exit
