;; desc: get_current_comm with size 0
;; prog: kprobe
;; expect: reject
;; error: zero
mov %r1, %r10
add %r1, -16
mov %r2, 0
call 16
mov %r0, 0
exit
