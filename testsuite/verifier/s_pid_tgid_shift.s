;; desc: pid from get_current_pid_tgid >> 32
;; prog: kprobe
;; expect: accept
call 14
rsh %r0, 32
exit
