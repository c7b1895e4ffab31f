//! Errors of the ELF reader: each names the file and what is wrong where (section, symbol, offset).

use crate::btf::BtfError;

/// A clang BPF object could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ElfError {
    /// Reading the file failed.
    #[error("{file}: {error}")]
    Io {
        /// The file.
        file: String,
        /// OS error text.
        error: String,
    },
    /// The file is shorter than a structure it must contain.
    #[error("{file}: truncated: {what} needs {need} bytes at offset {offset}, file has {len}")]
    Truncated {
        /// The file.
        file: String,
        /// What was being read.
        what: String,
        /// Offset of the structure.
        offset: u64,
        /// Bytes needed.
        need: u64,
        /// File length.
        len: usize,
    },
    /// Not an ELF file.
    #[error("{file}: not an ELF file (bad magic {magic:02x?})")]
    BadMagic {
        /// The file.
        file: String,
        /// First four bytes.
        magic: Vec<u8>,
    },
    /// ELFCLASS32 or invalid class.
    #[error("{file}: ELF class {class} is not ELFCLASS64 (2); BPF objects are 64-bit")]
    WrongClass {
        /// The file.
        file: String,
        /// `e_ident[EI_CLASS]`.
        class: u8,
    },
    /// Big-endian or invalid data encoding.
    #[error("{file}: ELF data encoding {data} is not little endian (1); bpfc reads little-endian BPF objects")]
    WrongEndian {
        /// The file.
        file: String,
        /// `e_ident[EI_DATA]`.
        data: u8,
    },
    /// Not EM_BPF.
    #[error("{file}: ELF machine {machine} is not EM_BPF (247)")]
    WrongMachine {
        /// The file.
        file: String,
        /// `e_machine`.
        machine: u16,
    },
    /// Not a relocatable object.
    #[error("{file}: ELF type {etype} is not ET_REL (1); expected a `clang -c` object")]
    WrongType {
        /// The file.
        file: String,
        /// `e_type`.
        etype: u16,
    },
    /// goblin rejected a structure.
    #[error("{file}: malformed ELF: {error}")]
    Malformed {
        /// The file.
        file: String,
        /// goblin's message.
        error: String,
    },
    /// A section's contents lie (partly) outside the file.
    #[error(
        "{file}: section #{index} `{section}`: contents at {offset}..{end} lie past the end of the file ({len} bytes)"
    )]
    SectionOutOfBounds {
        /// The file.
        file: String,
        /// Section index.
        index: usize,
        /// `` `name` `` with a leading space when known, else empty (names are read after this check).
        section: String,
        /// File offset.
        offset: u64,
        /// End offset.
        end: u64,
        /// File length.
        len: usize,
    },
    /// A section index (in a symbol, a relocation section's link/info, or the header) is out of range.
    #[error("{file}: {what}: section index {index} is out of range ({count} sections)")]
    SectionIndex {
        /// The file.
        file: String,
        /// Who refers to it.
        what: String,
        /// The index.
        index: u64,
        /// Number of sections.
        count: usize,
    },
    /// A relocation names a symbol that does not exist.
    #[error(
        "{file}: section `{section}`: relocation #{reloc} refers to symbol #{sym}, but the symbol table has {count}"
    )]
    SymbolIndex {
        /// The file.
        file: String,
        /// Relocation section.
        section: String,
        /// Relocation number.
        reloc: usize,
        /// Symbol index.
        sym: usize,
        /// Number of symbols.
        count: usize,
    },
    /// A relocation's offset is outside (or misaligned in) the section it patches.
    #[error(
        "{file}: section `{section}`: relocation #{reloc} at offset {offset} is outside the section ({size} bytes) or not on an instruction boundary"
    )]
    RelocOffset {
        /// The file.
        file: String,
        /// Patched section.
        section: String,
        /// Relocation number.
        reloc: usize,
        /// Offset.
        offset: u64,
        /// Section size.
        size: u64,
    },
    /// A relocation type bpfc does not apply in this kind of section.
    #[error(
        "{file}: section `{section}`: relocation #{reloc} at offset {offset} has type {rtype} ({name}), not allowed here (allowed: {allowed})"
    )]
    BadRelocType {
        /// The file.
        file: String,
        /// Patched section.
        section: String,
        /// Relocation number.
        reloc: usize,
        /// Offset.
        offset: u64,
        /// Type number.
        rtype: u32,
        /// Type name.
        name: &'static str,
        /// Types allowed in this section.
        allowed: &'static str,
    },
    /// A symbol is malformed (function outside its section, misaligned, ...).
    #[error("{file}: symbol `{symbol}` in section `{section}`: {detail}")]
    BadSymbol {
        /// The file.
        file: String,
        /// Symbol name.
        symbol: String,
        /// Section name.
        section: String,
        /// What is wrong.
        detail: String,
    },
    /// `.BTF` or `.BTF.ext` is corrupt.
    #[error("{file}: {error}")]
    Btf {
        /// The file.
        file: String,
        /// The cause (shown in the message, so not chained as a source).
        error: BtfError,
    },
    /// A program section bpfc cannot run.
    #[error("{file}: section `{section}`: {reason}")]
    Unsupported {
        /// The file.
        file: String,
        /// Section name.
        section: String,
        /// Why.
        reason: String,
    },
    /// A map definition is invalid.
    #[error("{file}: map `{map}`: {detail}")]
    Map {
        /// The file.
        file: String,
        /// Map name.
        map: String,
        /// What is wrong.
        detail: String,
    },
    /// A license or version section is malformed.
    #[error("{file}: section `{section}`: {detail}")]
    BadSection {
        /// The file.
        file: String,
        /// Section name.
        section: String,
        /// What is wrong.
        detail: String,
    },
}
