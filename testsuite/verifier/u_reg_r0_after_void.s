;; desc: reads r0 after bpf_ringbuf_submit (a void helper)
;; prog: kprobe
;; map: rb ringbuf key=0 value=0 entries=4096
;; expect: reject
;; error: R0 !read_ok
lddw %r1, map:rb
mov %r2, 8
mov %r3, 0
call 131
jeq %r0, 0, out
mov %r1, %r0
mov %r2, 0
call 132
exit
out:
mov %r0, 0
exit
