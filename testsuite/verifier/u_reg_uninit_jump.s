;; desc: compares an uninitialised register
;; prog: kprobe
;; expect: reject
;; error: R4 !read_ok
mov %r0, 0
jeq %r4, 0, done
mov %r0, 1
done:
exit
