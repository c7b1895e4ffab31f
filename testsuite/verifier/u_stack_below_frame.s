;; desc: writes below the 512-byte frame
;; prog: kprobe
;; expect: reject
;; error: outside the 512-byte frame
stdw [%r10-520], 0
mov %r0, 0
exit
