;; desc: percpu array lookup with a 4-byte key
;; prog: kprobe
;; map: pa percpu_array key=4 value=8 entries=1
;; expect: accept
stw [%r10-4], 0
mov %r2, %r10
add %r2, -4
lddw %r1, map:pa
call 1
jeq %r0, 0, out
ldxdw %r0, [%r0+0]
exit
out:
mov %r0, 0
exit
