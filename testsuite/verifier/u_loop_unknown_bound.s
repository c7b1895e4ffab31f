;; desc: while (x) x--; on an unknown x
;; prog: kprobe
;; expect: reject
ldxdw %r1, [%r1+112]
loop:
jeq %r1, 0, done
sub %r1, 1
ja loop
done:
mov %r0, 0
exit
