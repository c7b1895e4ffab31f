;; desc: compares two pointers (privileged), no dereference
;; prog: kprobe
;; expect: accept
mov %r2, %r10
add %r2, -8
mov %r0, 0
jgt %r2, %r1, done
mov %r0, 1
done:
exit
