;; desc: jumps to itself
;; prog: kprobe
;; expect: reject
mov %r0, 0
loop:
ja loop
exit
