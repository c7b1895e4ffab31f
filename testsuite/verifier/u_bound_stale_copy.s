;; desc: checks a copy taken before the index grew by 2 (i <= 6 so i + 2 <= 8 overruns)
;; prog: kprobe
;; map: m hash key=8 value=8 entries=16
;; expect: reject
stdw [%r10-8], 0
mov %r2, %r10
add %r2, -8
lddw %r1, map:m
call 1
jeq %r0, 0, out
mov %r6, %r0
call 7
mov %r2, %r0
add %r0, 2
jgt %r2, 6, out
add %r6, %r0
ldxb %r0, [%r6+0]
exit
out:
mov %r0, 0
exit
