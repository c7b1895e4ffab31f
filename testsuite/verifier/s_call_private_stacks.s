;; desc: main 256 bytes + callee 320 bytes: tracing programs get private stacks per function
;; prog: kprobe
;; expect: accept
stdw [%r10-256], 0
call local f
exit
f:
stdw [%r10-320], 0
mov %r0, 0
exit
