;; desc: a BPF function adds its two arguments
;; prog: kprobe
;; expect: accept
mov %r1, 3
mov %r2, 4
call local add
exit
add:
mov %r0, %r1
add %r0, %r2
exit
