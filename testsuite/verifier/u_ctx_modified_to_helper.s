;; desc: passes ctx+8 to bpf_perf_event_output
;; prog: kprobe
;; map: pe perf_event_array key=4 value=4 entries=2
;; expect: reject
;; error: modified ctx
mov %r6, %r1
stdw [%r10-8], 0
mov %r1, %r6
add %r1, 8
lddw %r2, map:pe
lddw %r3, 0xffffffff
mov %r4, %r10
add %r4, -8
mov %r5, 8
call 25
mov %r0, 0
exit
