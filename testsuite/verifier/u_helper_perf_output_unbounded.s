;; desc: perf_event_output size unbounded
;; prog: kprobe
;; map: pe perf_event_array key=4 value=4 entries=2
;; expect: reject
ldxdw %r5, [%r1+112]
stdw [%r10-8], 0
lddw %r2, map:pe
lddw %r3, 0xffffffff
mov %r4, %r10
add %r4, -8
call 25
mov %r0, 0
exit
