//! The verifier: proves a linked BPF program safe before native code runs, as `bpf_check()` does in the
//! kernel, and records the facts it proved for the lowering.
//!
//! Algorithm: forward abstract interpretation, depth first over paths like the kernel's `do_check`.
//! Each register carries a type ([`state::Kind`]) and numeric knowledge ([`scalar::Scalar`]: tnum plus
//! signed/unsigned 64- and 32-bit intervals); each stack byte is uninitialised, unknown data, zero or
//! part of a spilled register. Conditional jumps split the path and narrow both sides (null checks turn
//! `map_value_or_null` into `map_value`; comparisons narrow intervals, also on linked copies). At prune
//! points (jump targets, function entries, after calls) the state is compared with fully explored states
//! seen there: if one of them subsumes it the path is safe and stops. Loops are bounded by exploration
//! itself: a state equal to one still being explored on the current path is an infinite loop, and the
//! kernel's limit of 1,000,000 processed instructions stops anything else.
//!
//! Files: [`tnum`] known bits, [`scalar`] intervals, [`state`] registers/stack/subsumption, `engine`
//! the path walk and ALU/jumps, `mem` loads and stores, `call` helpers, BPF calls and callbacks,
//! `report` messages and the log.
//!
//! Hazards: everything is computed on untrusted input, so offsets are widened to i64/i128 before adding
//! and every table lookup is checked; a verifier bug must show as a rejection, never as a panic.

mod call;
mod engine;
mod mem;
mod report;
pub mod scalar;
pub mod state;
pub mod tnum;

use bpfc_runtime::abi::ProgType;
use bpfc_runtime::ctx::CtxLayout;
use bpfc_runtime::isa::{Code, Pc};
use std::collections::BTreeMap;
use std::fmt;

/// The kernel's `BPF_COMPLEXITY_LIMIT_INSNS`.
pub const COMPLEXITY_LIMIT: u64 = 1_000_000;
/// The kernel's `MAX_BPF_STACK`: the combined stack of a call chain.
pub const MAX_STACK: i64 = 512;
/// The kernel's `MAX_CALL_FRAMES`.
pub const MAX_CALL_FRAMES: usize = 8;

/// Kernel map types the verifier distinguishes (`enum bpf_map_type` values).
pub mod map_type {
    /// `BPF_MAP_TYPE_HASH`.
    pub const HASH: u32 = 1;
    /// `BPF_MAP_TYPE_ARRAY`.
    pub const ARRAY: u32 = 2;
    /// `BPF_MAP_TYPE_PROG_ARRAY`.
    pub const PROG_ARRAY: u32 = 3;
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
    pub const PERF_EVENT_ARRAY: u32 = 4;
    /// `BPF_MAP_TYPE_PERCPU_HASH`.
    pub const PERCPU_HASH: u32 = 5;
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`.
    pub const PERCPU_ARRAY: u32 = 6;
    /// `BPF_MAP_TYPE_STACK_TRACE`.
    pub const STACK_TRACE: u32 = 7;
    /// `BPF_MAP_TYPE_LRU_HASH`.
    pub const LRU_HASH: u32 = 9;
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
    pub const LRU_PERCPU_HASH: u32 = 10;
    /// `BPF_MAP_TYPE_LPM_TRIE`.
    pub const LPM_TRIE: u32 = 11;
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
    pub const ARRAY_OF_MAPS: u32 = 12;
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`.
    pub const HASH_OF_MAPS: u32 = 13;
    /// `BPF_MAP_TYPE_QUEUE`.
    pub const QUEUE: u32 = 22;
    /// `BPF_MAP_TYPE_STACK`.
    pub const STACK: u32 = 23;
    /// `BPF_MAP_TYPE_RINGBUF`.
    pub const RINGBUF: u32 = 27;
    /// `BPF_MAP_TYPE_BLOOM_FILTER`.
    pub const BLOOM_FILTER: u32 = 30;
}

/// A map as the verifier needs it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MapDef {
    /// Name, for messages.
    pub name: String,
    /// Kernel `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// Read-only for programs (`.rodata`, `BPF_F_RDONLY_PROG`).
    pub readonly: bool,
    /// Initial contents of value 0, for constant strings in read-only maps.
    pub init: Option<Vec<u8>>,
    /// Offset of a `struct bpf_spin_lock` in the value, when BTF declares one.
    pub spin_lock_off: Option<u32>,
    /// For map-in-map: the index of the inner map template (what a lookup returns).
    pub inner_map: Option<u32>,
}

/// Everything the verifier looks at.
#[derive(Clone, Debug)]
pub struct VerifyInput<'a> {
    /// Program name, for messages.
    pub name: &'a str,
    /// Linked code: maps referenced as `MapIdx`/`MapIdxValue` (or `MapFd`/`MapValue` through `map_fds`).
    pub code: &'a Code,
    /// Program type.
    pub prog_type: ProgType,
    /// The context layout r1 points to.
    pub ctx: &'a CtxLayout,
    /// Map definitions by index.
    pub maps: &'a [MapDef],
    /// For raw `MapFd` references: fd → map index.
    pub map_fds: &'a [(i32, usize)],
    /// Source lines: slot → "file:line: text" (from BTF line_info), applying up to the next entry.
    pub lines: Option<&'a BTreeMap<Pc, String>>,
    /// Whether the license is GPL-compatible (gpl_only helpers need it).
    pub gpl: bool,
    /// 0: no log; 1: every processed instruction and the states at branches; 2: the state after every
    /// instruction, as the kernel's verifier log level 2.
    pub log_level: u32,
}

/// Which memory an access touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegionKind {
    /// The BPF stack.
    Stack,
    /// The program context.
    Ctx,
    /// A map value.
    MapValue,
    /// A ringbuf record.
    RingbufMem,
}

/// What the verifier proved about one load, store or atomic instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessFact {
    /// The region kind the base register points to on every path (None when paths disagree).
    pub region: Option<RegionKind>,
    /// The access stays within its region on every path that reaches it.
    pub in_bounds: bool,
    /// The offset from the region start is the same constant on every path.
    pub const_offset: Option<i64>,
}

/// Facts proved about an accepted program.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// Per instruction index: the access fact for loads, stores and atomics that some path reaches.
    pub access: Vec<Option<AccessFact>>,
    /// Per instruction index: whether any path reaches it (dead code is never executed).
    pub reachable: Vec<bool>,
    /// Per function (by first slot): the deepest stack byte used, rounded up to 8.
    pub stack_depth: BTreeMap<Pc, u32>,
    /// Instructions processed (the kernel's `processed N insns`).
    pub processed: u64,
    /// States kept for pruning at the end.
    pub states: usize,
    /// The verifier log (empty at level 0).
    pub log: String,
}

impl Facts {
    /// The access fact of the instruction starting at slot `pc` of `code` (the verified code).
    pub fn access_at(&self, code: &Code, pc: Pc) -> Option<AccessFact> {
        code.index_of(pc).and_then(|i| self.access.get(i).copied().flatten())
    }

    /// Whether the instruction starting at slot `pc` is reached on some path.
    pub fn reachable_at(&self, code: &Code, pc: Pc) -> bool {
        code.index_of(pc).and_then(|i| self.reachable.get(i).copied()).unwrap_or(false)
    }
}

/// Why a program was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// Program name.
    pub prog: String,
    /// Slot of the failing instruction (None for whole-program errors such as bad structure).
    pub pc: Option<Pc>,
    /// The instruction, disassembled.
    pub insn: Option<String>,
    /// What is wrong, for a C programmer.
    pub message: String,
    /// The kernel's wording of the same error, when it has one.
    pub kernel: Option<String>,
    /// Register and stack state at the failure.
    pub state: String,
    /// The C source line.
    pub line: Option<String>,
    /// The verifier log up to the failure (empty at level 0).
    pub log: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "program `{}` rejected", self.prog)?;
        if let Some(pc) = self.pc {
            write!(f, " at insn #{pc}")?;
            if let Some(i) = &self.insn {
                write!(f, " `{i}`")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(k) = &self.kernel {
            write!(f, " (kernel: {k})")?;
        }
        if let Some(l) = &self.line {
            write!(f, "\n  at {l}")?;
        }
        if !self.state.is_empty() {
            write!(f, "\n  state: {}", self.state.replace('\n', "\n         "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

impl From<&bpfc_runtime::bind::MapDecl> for MapDef {
    /// The verifier's view of a bound map: read-only when `BPF_F_RDONLY_PROG` is set (`.rodata`).
    fn from(d: &bpfc_runtime::bind::MapDecl) -> MapDef {
        MapDef {
            name: d.name.clone(),
            map_type: d.map_type,
            key_size: d.key_size,
            value_size: d.value_size,
            max_entries: d.max_entries,
            flags: d.flags,
            readonly: d.flags & bpfc_runtime::bind::BPF_F_RDONLY_PROG != 0,
            init: d.init.clone(),
            spin_lock_off: None,
            inner_map: d.inner_map,
        }
    }
}

/// The context layout programs of `prog_type` are verified against on this machine: the kernel's
/// rules for tracing types, a `ctx_len`-byte buffer otherwise (raw bytecode, conformance programs).
pub fn ctx_layout(prog_type: ProgType, ctx_len: u32) -> CtxLayout {
    CtxLayout::for_prog_type(prog_type, bpfc_runtime::ctx::Arch::host()).unwrap_or_else(|| CtxLayout::buffer(ctx_len))
}

/// Whether a license string is GPL-compatible, as the kernel's `license_is_gpl_compatible` decides.
pub fn license_is_gpl(license: &str) -> bool {
    matches!(license, "GPL" | "GPL v2" | "GPL and additional rights" | "Dual BSD/GPL" | "Dual MIT/GPL" | "Dual MPL/GPL")
}

/// Verifies one program.
pub fn verify(input: &VerifyInput<'_>) -> Result<Facts, Box<Rejection>> {
    engine::Verifier::run(input)
}

#[cfg(test)]
mod tests;
