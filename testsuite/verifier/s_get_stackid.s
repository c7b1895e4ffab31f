;; desc: get_stackid with a stack trace map
;; prog: kprobe
;; map: st stack_trace key=4 value=64 entries=16
;; expect: accept
lddw %r2, map:st
mov %r3, 0
call 27
exit
