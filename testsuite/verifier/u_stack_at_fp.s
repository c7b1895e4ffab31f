;; desc: writes at the frame pointer (above the frame)
;; prog: kprobe
;; expect: reject
;; error: invalid write to stack
stdw [%r10+0], 0
mov %r0, 0
exit
