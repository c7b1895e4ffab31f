//! The raw ELF layer: header checks, sections, symbols and relocations, all bounds-checked.
//!
//! goblin parses the structures; before handing it the bytes we check the identification (class,
//! endianness, machine, type) and that the section header table and every SYMTAB/REL table lie inside
//! the file, so a damaged object yields a specific error instead of a huge allocation or a generic
//! "malformed" message. Every later lookup (section by index, symbol by index) goes through methods that
//! return errors naming the referrer.

use super::ElfError;
use goblin::elf::{Elf, SectionHeader, header, section_header as sh, sym};

/// R_BPF_64_64: lddw immediate (64-bit, split over two slots).
pub const R_BPF_64_64: u32 = 1;
/// R_BPF_64_ABS64: 64-bit data.
pub const R_BPF_64_ABS64: u32 = 2;
/// R_BPF_64_ABS32: 32-bit data.
pub const R_BPF_64_ABS32: u32 = 3;
/// R_BPF_64_NODYLD32: 32-bit data not relocated at load time (`.BTF`, `.BTF.ext`, DWARF).
pub const R_BPF_64_NODYLD32: u32 = 4;
/// R_BPF_64_32: call immediate.
pub const R_BPF_64_32: u32 = 10;

/// Name of a BPF relocation type.
pub fn reloc_name(t: u32) -> &'static str {
    match t {
        0 => "R_BPF_NONE",
        R_BPF_64_64 => "R_BPF_64_64",
        R_BPF_64_ABS64 => "R_BPF_64_ABS64",
        R_BPF_64_ABS32 => "R_BPF_64_ABS32",
        R_BPF_64_NODYLD32 => "R_BPF_64_NODYLD32",
        R_BPF_64_32 => "R_BPF_64_32",
        _ => "unknown",
    }
}

/// One section.
#[derive(Clone, Debug)]
pub struct Section<'a> {
    /// Index in the section header table.
    pub index: usize,
    /// Name.
    pub name: String,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// Contents (empty for NOBITS).
    pub data: &'a [u8],
    /// `sh_size` (for NOBITS the size without contents).
    pub size: u64,
}

impl Section<'_> {
    /// Executable code.
    pub fn is_exec(&self) -> bool {
        self.sh_type == sh::SHT_PROGBITS && self.flags & u64::from(sh::SHF_EXECINSTR) != 0
    }
}

/// One symbol.
#[derive(Clone, Debug)]
pub struct Symbol {
    /// Index in the symbol table.
    pub index: usize,
    /// Name (for section symbols: the section name).
    pub name: String,
    /// `st_value` (offset in its section).
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// `st_shndx`.
    pub shndx: usize,
    /// `STB_*`.
    pub bind: u8,
    /// `STT_*`.
    pub typ: u8,
    /// `STV_*`.
    pub visibility: u8,
}

/// One relocation.
#[derive(Clone, Copy, Debug)]
pub struct Reloc {
    /// Number within its relocation section.
    pub number: usize,
    /// Offset in the patched section.
    pub offset: u64,
    /// Symbol index.
    pub sym: usize,
    /// `R_BPF_*` type.
    pub rtype: u32,
}

/// A checked ELF object.
#[derive(Debug)]
pub struct ElfFile<'a> {
    /// File name for messages.
    pub file: String,
    /// Sections by index.
    pub sections: Vec<Section<'a>>,
    /// Symbols by index.
    pub symbols: Vec<Symbol>,
    /// Relocations per patched section index, in file order.
    pub relocs: Vec<(usize, Vec<Reloc>)>,
}

fn trunc(file: &str, what: &str, offset: u64, need: u64, len: usize) -> ElfError {
    ElfError::Truncated { file: file.into(), what: what.into(), offset, need, len }
}

fn check_range(file: &str, what: &str, offset: u64, size: u64, len: usize) -> Result<(), ElfError> {
    match offset.checked_add(size) {
        Some(end) if end <= len as u64 => Ok(()),
        _ => Err(trunc(file, what, offset, size, len)),
    }
}

impl<'a> ElfFile<'a> {
    /// Checks and parses `bytes`.
    pub fn parse(bytes: &'a [u8], file: &str) -> Result<ElfFile<'a>, ElfError> {
        let len = bytes.len();
        if len < 4 || &bytes[..4] != b"\x7fELF" {
            if len < 4 {
                return Err(trunc(file, "ELF identification", 0, 16, len));
            }
            return Err(ElfError::BadMagic { file: file.into(), magic: bytes[..4].to_vec() });
        }
        if len < header::SIZEOF_IDENT {
            return Err(trunc(file, "ELF identification", 0, 16, len));
        }
        let class = bytes[header::EI_CLASS];
        if class != header::ELFCLASS64 {
            return Err(ElfError::WrongClass { file: file.into(), class });
        }
        let data = bytes[header::EI_DATA];
        if data != header::ELFDATA2LSB {
            return Err(ElfError::WrongEndian { file: file.into(), data });
        }
        if len < header::header64::SIZEOF_EHDR {
            return Err(trunc(file, "ELF header", 0, header::header64::SIZEOF_EHDR as u64, len));
        }
        let hdr =
            Elf::parse_header(bytes).map_err(|e| ElfError::Malformed { file: file.into(), error: e.to_string() })?;
        if hdr.e_machine != header::EM_BPF {
            return Err(ElfError::WrongMachine { file: file.into(), machine: hdr.e_machine });
        }
        if hdr.e_type != header::ET_REL {
            return Err(ElfError::WrongType { file: file.into(), etype: hdr.e_type });
        }
        if hdr.e_shentsize as usize != sh::section_header64::SIZEOF_SHDR && hdr.e_shnum != 0 {
            return Err(ElfError::Malformed {
                file: file.into(),
                error: format!("e_shentsize {} is not {}", hdr.e_shentsize, sh::section_header64::SIZEOF_SHDR),
            });
        }
        if hdr.e_shnum == 0 {
            return Err(ElfError::Malformed { file: file.into(), error: "no section headers (e_shnum is 0)".into() });
        }
        let shnum = hdr.e_shnum as usize;
        check_range(
            file,
            "section header table",
            hdr.e_shoff,
            (shnum * sh::section_header64::SIZEOF_SHDR) as u64,
            len,
        )?;
        if hdr.e_phnum != 0 {
            return Err(ElfError::Malformed {
                file: file.into(),
                error: format!("relocatable object has {} program headers", hdr.e_phnum),
            });
        }
        let shdrs = SectionHeader::parse(
            bytes,
            hdr.e_shoff as usize,
            shnum,
            goblin::container::Ctx::new(goblin::container::Container::Big, goblin::container::Endian::Little),
        )
        .map_err(|e| ElfError::Malformed { file: file.into(), error: e.to_string() })?;
        if hdr.e_shstrndx as usize >= shnum {
            return Err(ElfError::SectionIndex {
                file: file.into(),
                what: "e_shstrndx (section name table)".into(),
                index: hdr.e_shstrndx.into(),
                count: shnum,
            });
        }
        // goblin reads these tables without checking that they fit the file; check first.
        for (i, s) in shdrs.iter().enumerate() {
            if s.sh_type == sh::SHT_NOBITS || s.sh_type == sh::SHT_NULL {
                continue;
            }
            if s.sh_offset.checked_add(s.sh_size).is_none_or(|end| end > len as u64) {
                return Err(ElfError::SectionOutOfBounds {
                    file: file.into(),
                    index: i,
                    section: String::new(),
                    offset: s.sh_offset,
                    end: s.sh_offset.saturating_add(s.sh_size),
                    len,
                });
            }
            if matches!(s.sh_type, sh::SHT_SYMTAB | sh::SHT_REL | sh::SHT_RELA) {
                if s.sh_link as usize >= shnum {
                    return Err(ElfError::SectionIndex {
                        file: file.into(),
                        what: format!("sh_link of section #{i}"),
                        index: s.sh_link.into(),
                        count: shnum,
                    });
                }
                let want = if s.sh_type == sh::SHT_SYMTAB {
                    24
                } else if s.sh_type == sh::SHT_REL {
                    16
                } else {
                    24
                };
                if s.sh_entsize != want {
                    return Err(ElfError::Malformed {
                        file: file.into(),
                        error: format!("section #{i}: entry size {} (expected {want})", s.sh_entsize),
                    });
                }
            }
        }
        let elf = Elf::parse(bytes).map_err(|e| ElfError::Malformed { file: file.into(), error: e.to_string() })?;
        let mut sections = Vec::with_capacity(shnum);
        for (i, s) in elf.section_headers.iter().enumerate() {
            let name = elf.shdr_strtab.get_at(s.sh_name).ok_or_else(|| ElfError::Malformed {
                file: file.into(),
                error: format!("section #{i}: name offset {} is outside the section name table", s.sh_name),
            })?;
            let data = if s.sh_type == sh::SHT_NOBITS || s.sh_type == sh::SHT_NULL {
                &[][..]
            } else {
                &bytes[s.sh_offset as usize..(s.sh_offset + s.sh_size) as usize]
            };
            sections.push(Section {
                index: i,
                name: name.to_string(),
                sh_type: s.sh_type,
                flags: s.sh_flags,
                data,
                size: s.sh_size,
            });
        }
        let mut symbols = Vec::with_capacity(elf.syms.len());
        for (i, s) in elf.syms.iter().enumerate() {
            let mut name = elf.strtab.get_at(s.st_name).map(str::to_string).ok_or_else(|| ElfError::Malformed {
                file: file.into(),
                error: format!("symbol #{i}: name offset {} is outside the string table", s.st_name),
            })?;
            let special = s.st_shndx == sh::SHN_UNDEF as usize || s.st_shndx >= sh::SHN_LORESERVE as usize;
            if !special && s.st_shndx >= shnum {
                return Err(ElfError::SectionIndex {
                    file: file.into(),
                    what: format!("symbol #{i} `{name}`"),
                    index: s.st_shndx as u64,
                    count: shnum,
                });
            }
            if s.st_type() == sym::STT_SECTION && name.is_empty() && !special {
                name = sections[s.st_shndx].name.clone();
            }
            symbols.push(Symbol {
                index: i,
                name,
                value: s.st_value,
                size: s.st_size,
                shndx: s.st_shndx,
                bind: s.st_bind(),
                typ: s.st_type(),
                visibility: s.st_visibility(),
            });
        }
        let mut relocs = Vec::new();
        for (rel_idx, rs) in &elf.shdr_relocs {
            let rel_sec = &sections[*rel_idx];
            let target = elf.section_headers[*rel_idx].sh_info as usize;
            if target == 0 || target >= shnum {
                return Err(ElfError::SectionIndex {
                    file: file.into(),
                    what: format!("sh_info of relocation section `{}`", rel_sec.name),
                    index: target as u64,
                    count: shnum,
                });
            }
            let tsec = &sections[target];
            let mut list = Vec::with_capacity(rs.len());
            for (n, r) in rs.iter().enumerate() {
                if r.r_sym >= symbols.len() {
                    return Err(ElfError::SymbolIndex {
                        file: file.into(),
                        section: rel_sec.name.clone(),
                        reloc: n,
                        sym: r.r_sym,
                        count: symbols.len(),
                    });
                }
                let width = if r.r_type == R_BPF_64_64 {
                    16
                } else if r.r_type == R_BPF_64_ABS32 || r.r_type == R_BPF_64_NODYLD32 {
                    4
                } else {
                    8
                };
                if r.r_offset.checked_add(width).is_none_or(|e| e > tsec.size) {
                    return Err(ElfError::RelocOffset {
                        file: file.into(),
                        section: tsec.name.clone(),
                        reloc: n,
                        offset: r.r_offset,
                        size: tsec.size,
                    });
                }
                list.push(Reloc { number: n, offset: r.r_offset, sym: r.r_sym, rtype: r.r_type });
            }
            relocs.push((target, list));
        }
        Ok(ElfFile { file: file.into(), sections, symbols, relocs })
    }

    /// The section with this name.
    pub fn section_by_name(&self, name: &str) -> Option<&Section<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// Relocations patching section `index`.
    pub fn relocs_for(&self, index: usize) -> &[Reloc] {
        self.relocs.iter().find(|(t, _)| *t == index).map_or(&[], |(_, r)| r)
    }

    /// Name of the section a symbol lives in (or a description of a special index).
    pub fn symbol_section_name(&self, s: &Symbol) -> String {
        match s.shndx {
            0 => "<undefined>".into(),
            i if i >= sh::SHN_LORESERVE as usize => format!("<special {i:#x}>"),
            i => self.sections[i].name.clone(),
        }
    }
}
