;; desc: three nested calls
;; prog: kprobe
;; expect: accept
call local a
exit
a:
call local b
add %r0, 1
exit
b:
call local c
add %r0, 1
exit
c:
mov %r0, 1
exit
