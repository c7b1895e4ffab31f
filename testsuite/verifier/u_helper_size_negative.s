;; desc: probe_read size may be negative
;; prog: kprobe
;; expect: reject
;; error: negative
ldxdw %r2, [%r1+112]
jsgt %r2, 8, out
mov %r1, %r10
add %r1, -8
mov %r3, 0
call 113
out:
mov %r0, 0
exit
