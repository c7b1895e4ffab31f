//! bpfc-runtime: the machine that compiled BPF programs run on — and the only crate that touches raw
//! memory or the kernel.
//!
//! It owns the contract shared by every engine: the instruction set ([`isa`]), the native-object ABI
//! ([`abi`]), and the semantics ([`interp`], the reference interpreter that all compiled code is compared
//! with). It never links Cranelift: the compiler depends on it, not the other way round.
//!
//! `unsafe` is confined to [`mem`] (raw loads and stores after a region check), [`exec`] (calling native
//! code and helpers), [`native`] (loading objects), [`capi`] (the C API) and [`sys`] (the `bpf()` and
//! `perf_event_open` system calls).
#![warn(missing_docs)]

pub mod abi;
pub mod bind;
pub mod capi;
pub mod ctx;
pub mod events;
pub mod exec;
pub mod helpers;
pub mod interp;
pub mod isa;
pub mod maps;
pub mod mem;
pub mod native;
pub mod sys;
