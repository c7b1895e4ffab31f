//! bpfc-compiler: what the kernel does at `BPF_PROG_LOAD`, ahead of time — read the clang object, link
//! and relocate, verify, lift every instruction to Cranelift IR and emit native code.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
