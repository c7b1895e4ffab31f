;; desc: loop bound min(x, 16) from the context
;; prog: kprobe
;; expect: accept
ldxdw %r2, [%r1+112]
mov %r0, 0
mov %r1, 0
loop:
jge %r1, %r2, done
jge %r1, 16, done
add %r0, 3
add %r1, 1
ja loop
done:
exit
