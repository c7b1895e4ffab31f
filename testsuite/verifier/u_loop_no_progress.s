;; desc: a loop that never changes its state
;; prog: kprobe
;; expect: reject
mov %r0, 0
mov %r1, 1
loop:
jeq %r1, 1, loop
exit
