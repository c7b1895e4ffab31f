;; desc: a jump leaves its function
;; prog: kprobe
;; expect: reject
call local f
ja g_body
f:
ja g_body
g_body:
mov %r0, 0
exit
