;; desc: perf_event_output of a stack record
;; prog: kprobe
;; map: pe perf_event_array key=4 value=4 entries=2
;; expect: accept
stdw [%r10-8], 1
lddw %r2, map:pe
lddw %r3, 0xffffffff
mov %r4, %r10
add %r4, -8
mov %r5, 8
call 25
mov %r0, 0
exit
