//! bpfc-compiler: what the kernel does at `BPF_PROG_LOAD`, ahead of time — read the clang object, link
//! and relocate, verify, lift every instruction to Cranelift IR and emit native code.
//!
//! The crate denies `unsafe`; the single exception is turning a cranelift-jit code pointer into a
//! callable entry (`emit::jit`), see docs/architecture.md.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod btf;
pub mod conformance;
pub mod elf;
pub mod emit;
pub mod input;
pub mod kernel;
pub mod kernel_replay;
pub mod link;
pub mod lower;
pub mod pipeline;
pub mod records;
pub mod session;
pub mod verify;
