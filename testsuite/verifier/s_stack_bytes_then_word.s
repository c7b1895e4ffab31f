;; desc: eight byte stores then one 8-byte load
;; prog: kprobe
;; expect: accept
stb [%r10-1], 1
stb [%r10-2], 2
stb [%r10-3], 3
stb [%r10-4], 4
stb [%r10-5], 5
stb [%r10-6], 6
stb [%r10-7], 7
stb [%r10-8], 8
ldxdw %r0, [%r10-8]
exit
