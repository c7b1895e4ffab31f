//! Listings: a section before linking (llvm-objdump's `-d --no-show-raw-insn` layout) and a linked
//! program with its C source lines interleaved (llvm-objdump's `-S` layout: `; <line>` before the first
//! instruction of each new source line).
//!
//! Before linking, a BPF-to-BPF call carrying a relocation holds a section-relative slot the strict
//! decoder would reject as out of range; such calls are decoded with a placeholder immediate and
//! printed with their original one, exactly as llvm-objdump shows them.

use super::reader::ElfFile;
use super::{ElfError, Object, Program};
use bpfc_runtime::isa::{CallTarget, Imm64, Insn, decode};
use goblin::elf::sym;
use std::fmt::Write as _;

fn hex(v: i64) -> String {
    if v < 0 { format!("-{:#x}", (v as i128).unsigned_abs()) } else { format!("{v:#x}") }
}

/// llvm-objdump-style listing of every executable section of an object, before linking.
pub fn sections(bytes: &[u8], file: &str) -> Result<String, ElfError> {
    let elf = ElfFile::parse(bytes, file)?;
    let mut out = format!("\n{file}:\tfile format elf64-bpf\n");
    for sec in elf.sections.iter().filter(|s| s.is_exec() && s.size > 0) {
        let _ = write!(out, "\nDisassembly of section {}:\n", sec.name);
        let mut raw = sec.data.to_vec();
        if raw.len() % 8 != 0 {
            return Err(ElfError::BadSection {
                file: file.into(),
                section: sec.name.clone(),
                detail: format!("size {} is not a multiple of 8", raw.len()),
            });
        }
        let mut orig_imm = std::collections::HashMap::new();
        for r in elf.relocs_for(sec.index) {
            let at = r.offset as usize;
            if at.is_multiple_of(8) && at + 8 <= raw.len() && raw[at] == 0x85 && raw[at + 1] >> 4 == 1 {
                let imm = i32::from_le_bytes([raw[at + 4], raw[at + 5], raw[at + 6], raw[at + 7]]);
                orig_imm.insert(at / 8, imm);
                raw[at + 4..at + 8].copy_from_slice(&(-1i32).to_le_bytes());
            }
        }
        let code = decode(&raw).map_err(|e| ElfError::BadSection {
            file: file.into(),
            section: sec.name.clone(),
            detail: e.to_string(),
        })?;
        let mut labels: Vec<_> = elf
            .symbols
            .iter()
            .filter(|s| s.shndx == sec.index && s.typ == sym::STT_FUNC)
            .map(|s| (s.value / 8, s.name.as_str()))
            .collect();
        labels.sort();
        for l in code.insns() {
            for (_, name) in labels.iter().filter(|(pc, _)| *pc == l.pc as u64) {
                let _ = write!(out, "\n{:016x} <{name}>:\n", l.pc * 8);
            }
            match orig_imm.get(&l.pc) {
                Some(&imm) => {
                    let _ = writeln!(out, "{:>8}:\tcall {}", l.pc, hex(imm.into()));
                }
                None => {
                    let _ = writeln!(out, "{:>8}:\t{l}", l.pc);
                }
            }
        }
    }
    Ok(out)
}

/// Listing of one linked program: function labels, `; source` lines, and map names for map references.
pub fn program(obj: &Object, p: &Program) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (section {}, {:?}, {}): {} instructions, {} slots",
        p.name,
        p.section,
        p.prog_type,
        p.attach,
        p.code.len(),
        p.code.slots()
    );
    let mut last_line: Option<(&str, u32)> = None;
    let mut li = 0;
    for l in p.code.insns() {
        for (name, _) in p.functions.iter().filter(|(_, pc)| *pc == l.pc) {
            let _ = write!(out, "\n{:016x} <{name}>:\n", l.pc * 8);
        }
        while li < p.line_info.len() && p.line_info[li].pc <= l.pc {
            let info = &p.line_info[li];
            li += 1;
            if info.pc == l.pc && last_line != Some((info.file.as_str(), info.line)) {
                let _ = writeln!(out, "; {}", info.text.trim_end());
                last_line = Some((info.file.as_str(), info.line));
            }
        }
        let _ = write!(out, "{:>8}:\t{l}", l.pc);
        let map_name = |i: i32| obj.maps.get(i as usize).map_or("<invalid map>", |m| m.name.as_str());
        match l.insn {
            Insn::LdImm64 { imm: Imm64::MapIdx(i), .. } => {
                let _ = write!(out, "\t; map {}", map_name(i));
            }
            Insn::LdImm64 { imm: Imm64::MapIdxValue { idx, off }, .. } => {
                let _ = write!(out, "\t; &{} + {}", map_name(idx), hex(off.into()));
            }
            Insn::LdImm64 { imm: Imm64::Func(t), .. } | Insn::Call(CallTarget::Local(t)) => {
                if let Some((name, _)) = p.functions.iter().find(|(_, pc)| *pc == t) {
                    let _ = write!(out, "\t; <{name}>");
                }
            }
            Insn::Call(CallTarget::Helper(id)) if id == crate::btf::core::POISON_HELPER_ID => {
                let _ = write!(out, "\t; poisoned by CO-RE (unresolvable relocation)");
            }
            _ => {}
        }
        out.push('\n');
    }
    out
}
