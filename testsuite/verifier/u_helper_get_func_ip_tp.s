;; desc: bpf_get_func_ip in a tracepoint program
;; prog: tracepoint
;; expect: reject
call 173
mov %r0, 0
exit
