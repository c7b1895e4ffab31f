//! Linking: what libbpf's `bpf_object__relocate` does before `BPF_PROG_LOAD`, on raw instructions.
//!
//! Order (libbpf's): per executable section, (1) apply CO-RE relocations ([`crate::btf::core`]),
//! (2) turn `lddw` relocations into map references (`src = BPF_PSEUDO_MAP_IDX`, imm = map index),
//! global-data references (`BPF_PSEUDO_MAP_IDX_VALUE`, second imm = offset) and function pointers
//! (`BPF_PSEUDO_FUNC`), and record where every call goes ([`reloc`]); then, per program, (3) copy its
//! function and append every function it reaches, depth-first in the order the calls appear, each once,
//! re-encoding call and function-pointer immediates for the new layout ([`program`]). Only then is the
//! result decoded, so the strict decoder sees exactly what the kernel would.
//!
//! Static calls carry a relocation against the `.text` section symbol with the target's slot in the
//! immediate (`target = sym/8 + imm + 1`); global calls a relocation against the function symbol with
//! `imm = -1`; calls inside one section may have no relocation (`target = pc + imm + 1`).

mod program;
mod reloc;

use crate::btf::core::CoreError;
use crate::btf::ext::BtfExt;
use crate::btf::{Btf, BtfError};
use crate::elf::maps::MapSym;
use crate::elf::reader::ElfFile;
use crate::elf::{MapDef, Program, TargetBtf};
use bpfc_runtime::isa::DecodeError;
use std::fmt;

/// Everything linking reads.
pub struct Input<'e, 'a> {
    /// The checked ELF.
    pub elf: &'e ElfFile<'a>,
    /// `.BTF`.
    pub btf: Option<&'e Btf>,
    /// `.BTF.ext`.
    pub ext: Option<&'e BtfExt>,
    /// Maps, in object order.
    pub maps: &'e [MapDef],
    /// Where each map's definition lives.
    pub map_syms: &'e [MapSym],
    /// CO-RE target.
    pub target: &'e TargetBtf,
}

/// Linking output.
#[derive(Debug)]
pub struct Linked {
    /// Linked programs.
    pub programs: Vec<Program>,
    /// `.text` function names.
    pub subprograms: Vec<String>,
}

/// What went wrong while linking.
#[derive(Debug, thiserror::Error)]
pub enum LinkErrorKind {
    /// A relocation type not allowed on this instruction.
    #[error("relocation against `{symbol}` has type {rtype} ({name}); {insn} needs {expected}")]
    BadRelocType {
        /// Symbol.
        symbol: String,
        /// Type number.
        rtype: u32,
        /// Type name.
        name: &'static str,
        /// The instruction kind.
        insn: &'static str,
        /// The type it needs.
        expected: &'static str,
    },
    /// A relocation on something other than `lddw` or a BPF-to-BPF call.
    #[error(
        "relocation against `{symbol}` on an instruction that is neither lddw nor a BPF-to-BPF call (opcode {opcode:#04x})"
    )]
    NotRelocatable {
        /// Symbol.
        symbol: String,
        /// Opcode.
        opcode: u8,
    },
    /// A relocation offset not on an instruction boundary.
    #[error("relocation #{reloc} at byte offset {offset} is not on an instruction boundary")]
    Misaligned {
        /// Relocation number.
        reloc: usize,
        /// Offset.
        offset: u64,
    },
    /// An `lddw` relocation against a symbol that is no map, global data or code.
    #[error("relocation against `{symbol}` in section `{section}`: not a map, global data or code")]
    UnknownTarget {
        /// Symbol.
        symbol: String,
        /// Its section.
        section: String,
    },
    /// A reference to an undefined (extern) symbol.
    #[error("reference to extern `{symbol}`: `__kconfig`/`__ksym` externs are not supported")]
    Extern {
        /// Symbol.
        symbol: String,
    },
    /// A call or function reference that does not land on a function.
    #[error("{what} target {target} in section `{section}` is not the start of a function")]
    BadCallTarget {
        /// "call" or "function reference".
        what: &'static str,
        /// Target slot (may be negative or past the end).
        target: i64,
        /// Target section.
        section: String,
    },
    /// A function symbol that does not fit its section.
    #[error("function `{function}`: {detail}")]
    BadFunction {
        /// Function.
        function: String,
        /// What is wrong.
        detail: String,
    },
    /// The linked program does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// A CO-RE relocation failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A `.BTF.ext` record points outside its section.
    #[error("{what} record at byte offset {offset}: {detail}")]
    BadExtRecord {
        /// "CO-RE relocation", "line info", ...
        what: &'static str,
        /// Offset.
        offset: u32,
        /// What is wrong.
        detail: String,
    },
    /// CO-RE relocations exist but the object has no BTF.
    #[error("CO-RE relocations need the object's .BTF")]
    NoBtf,
    /// The target BTF could not be read.
    #[error("cannot read target BTF for CO-RE: {0}")]
    TargetBtf(BtfError),
    /// A static function in a program section (libbpf refuses these too).
    #[error("program `{function}` is static; programs must be global functions")]
    StaticProgram {
        /// Function.
        function: String,
    },
    /// A program section name bpfc does not support.
    #[error("{reason}")]
    Unsupported {
        /// Why.
        reason: String,
    },
}

/// A linking error with its location: file, section, program, instruction and C source line.
#[derive(Debug)]
pub struct LinkError {
    /// The object file.
    pub file: String,
    /// ELF section.
    pub section: String,
    /// Program or function containing the instruction.
    pub program: Option<String>,
    /// Instruction slot (in the section, or in the linked program for decode errors).
    pub insn: Option<usize>,
    /// `file:line: source text` when line info covers the instruction.
    pub source_line: Option<String>,
    /// What went wrong (boxed: errors travel by value through every linking function).
    pub kind: Box<LinkErrorKind>,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: section `{}`", self.file, self.section)?;
        if let Some(p) = &self.program {
            write!(f, ", program `{p}`")?;
        }
        if let Some(i) = self.insn {
            write!(f, ", insn #{i}")?;
        }
        if let Some(s) = &self.source_line {
            write!(f, " ({s})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The kind's own message is part of ours; chain only what lies beneath it.
        std::error::Error::source(self.kind.as_ref())
    }
}

/// Relocates every section and links every program.
pub fn link(input: &Input<'_, '_>) -> Result<Linked, LinkError> {
    let funcs = program::collect_functions(input)?;
    let sections = reloc::relocate_sections(input, &funcs)?;
    program::link_programs(input, &funcs, &sections)
}
