;; desc: variable offset may go below the frame
;; prog: kprobe
;; expect: reject
ldxdw %r1, [%r1+112]
and %r1, 1023
mov %r2, %r10
sub %r2, %r1
stdw [%r2-8], 0
mov %r0, 0
exit
