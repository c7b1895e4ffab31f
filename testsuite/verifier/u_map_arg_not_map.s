;; desc: passes a stack pointer as the map
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
;; error: expected=map_ptr
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
mov %r1, %r10
call 1
mov %r0, 0
exit
