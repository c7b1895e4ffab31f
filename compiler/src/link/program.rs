//! Functions of the object and per-program assembly (libbpf's `bpf_object__reloc_code`).
//!
//! Each program's code is its own function followed by every function it reaches, appended depth-first
//! in the order its call (or function-pointer) instructions appear, each function once per program. The
//! same `.text` function therefore sits at different slots in different programs, which is why call
//! immediates are re-encoded per program and line/func info is remapped per program.

use super::reloc::SecCode;
use super::{Input, LinkError, LinkErrorKind, Linked};
use crate::elf::section::classify;
use crate::elf::{Attach, FuncInfo, LineInfo, Program};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::isa::{DecodeError, decode};
use goblin::elf::sym;
use std::collections::{BTreeMap, HashMap};

/// A function symbol in an executable section.
pub(super) struct Func {
    pub name: String,
    pub shndx: usize,
    /// First slot in the section.
    pub start: usize,
    /// Length in slots.
    pub slots: usize,
    /// Program type and attach point for programs (functions outside `.text`).
    pub prog: Option<(ProgType, Attach)>,
}

/// All functions, with lookup by (section, start slot).
pub(super) struct Functions {
    pub list: Vec<Func>,
    by_start: HashMap<(usize, usize), usize>,
}

impl Functions {
    fn containing(&self, shndx: usize, slot: usize) -> Option<&Func> {
        self.list.iter().find(|f| f.shndx == shndx && f.start <= slot && slot < f.start + f.slots)
    }
}

/// `file:line: text` of the last line-info record at or before `slot` of section `shndx`, within the
/// function containing it.
fn section_source_line(input: &Input<'_, '_>, funcs: &Functions, shndx: usize, slot: usize) -> Option<String> {
    let (ext, btf) = (input.ext?, input.btf?);
    let f = funcs.containing(shndx, slot)?;
    let recs = ext.line_info.get(&input.elf.sections[shndx].name)?;
    let r = recs
        .iter()
        .filter(|r| (r.insn_off / 8) as usize >= f.start && (r.insn_off / 8) as usize <= slot)
        .max_by_key(|r| r.insn_off)?;
    Some(format!("{}:{}: {}", btf.str_at(r.file_name_off), r.line, btf.str_at(r.line_off).trim()))
}

/// A located error for an instruction of a section (or the section as a whole).
pub(super) fn error_at(
    input: &Input<'_, '_>,
    funcs: &Functions,
    shndx: usize,
    slot: Option<usize>,
    kind: LinkErrorKind,
) -> LinkError {
    LinkError {
        file: input.elf.file.clone(),
        section: input.elf.sections[shndx].name.clone(),
        program: slot.and_then(|s| funcs.containing(shndx, s)).map(|f| f.name.clone()),
        insn: slot,
        source_line: slot.and_then(|s| section_source_line(input, funcs, shndx, s)),
        kind: Box::new(kind),
    }
}

/// Finds every function symbol of every executable section and types the programs.
pub(super) fn collect_functions(input: &Input<'_, '_>) -> Result<Functions, LinkError> {
    let elf = input.elf;
    let mut list = Vec::new();
    let bare = |shndx: usize, kind| LinkError {
        file: elf.file.clone(),
        section: elf.sections[shndx].name.clone(),
        program: None,
        insn: None,
        source_line: None,
        kind: Box::new(kind),
    };
    for sec in elf.sections.iter().filter(|s| s.is_exec()) {
        let mut syms: Vec<_> = elf.symbols.iter().filter(|s| s.typ == sym::STT_FUNC && s.shndx == sec.index).collect();
        if syms.is_empty() {
            continue;
        }
        syms.sort_by_key(|s| (s.value, s.index));
        let is_text = sec.name == ".text";
        let prog = if is_text {
            None
        } else {
            Some(classify(&sec.name).map_err(|reason| bare(sec.index, LinkErrorKind::Unsupported { reason }))?)
        };
        for s in syms {
            let bad = |detail: String| bare(sec.index, LinkErrorKind::BadFunction { function: s.name.clone(), detail });
            if s.value % 8 != 0 || s.size % 8 != 0 || s.size == 0 {
                return Err(bad(format!("offset {} / size {} are not whole instructions", s.value, s.size)));
            }
            if s.value.checked_add(s.size).is_none_or(|e| e > sec.size) {
                return Err(bad(format!(
                    "bytes {}..{} lie outside the section ({} bytes)",
                    s.value,
                    s.value.saturating_add(s.size),
                    sec.size
                )));
            }
            if !is_text && s.bind == sym::STB_LOCAL {
                return Err(bare(sec.index, LinkErrorKind::StaticProgram { function: s.name.clone() }));
            }
            list.push(Func {
                name: s.name.clone(),
                shndx: sec.index,
                start: (s.value / 8) as usize,
                slots: (s.size / 8) as usize,
                prog: prog.clone(),
            });
        }
    }
    let by_start = list.iter().enumerate().map(|(i, f)| ((f.shndx, f.start), i)).collect();
    Ok(Functions { list, by_start })
}

struct Builder<'x, 'e, 'a> {
    input: &'x Input<'e, 'a>,
    funcs: &'x Functions,
    sections: &'x BTreeMap<usize, SecCode>,
    raw: Vec<u8>,
    /// (function index, base slot) in append order.
    placed: Vec<(usize, usize)>,
}

impl Builder<'_, '_, '_> {
    fn base_of(&self, fi: usize) -> Option<usize> {
        self.placed.iter().find(|(f, _)| *f == fi).map(|&(_, b)| b)
    }

    fn append(&mut self, fi: usize) -> usize {
        let f = &self.funcs.list[fi];
        let base = self.raw.len() / 8;
        let sec = &self.sections[&f.shndx];
        self.raw.extend_from_slice(&sec.raw[f.start * 8..(f.start + f.slots) * 8]);
        self.placed.push((fi, base));
        base
    }

    /// Resolves the calls and function references of function `fi` placed at `base`, appending callees.
    fn process(&mut self, fi: usize, base: usize) -> Result<(), LinkError> {
        let (shndx, start, slots) = {
            let f = &self.funcs.list[fi];
            (f.shndx, f.start, f.slots)
        };
        for i in 0..slots {
            let sec_slot = start + i;
            let sec = &self.sections[&shndx];
            let (target, what) = if let Some(&t) = sec.calls.get(&sec_slot) {
                (t, "call")
            } else if let Some(&t) = sec.funcrefs.get(&sec_slot) {
                (t, "function reference")
            } else {
                continue;
            };
            let (tsh, tslot) = target;
            let tfi = usize::try_from(tslot).ok().and_then(|s| self.funcs.by_start.get(&(tsh, s)).copied());
            let Some(tfi) = tfi else {
                return Err(error_at(
                    self.input,
                    self.funcs,
                    shndx,
                    Some(sec_slot),
                    LinkErrorKind::BadCallTarget {
                        what,
                        target: tslot,
                        section: self.input.elf.sections[tsh].name.clone(),
                    },
                ));
            };
            let tbase = match self.base_of(tfi) {
                Some(b) => b,
                None => {
                    let b = self.append(tfi);
                    self.process(tfi, b)?;
                    b
                }
            };
            let at = base + i;
            let rel = tbase as i64 - at as i64 - 1;
            self.raw[at * 8 + 4..at * 8 + 8].copy_from_slice(&(rel as i32).to_le_bytes());
        }
        Ok(())
    }
}

fn decode_error_slot(e: &DecodeError) -> Option<usize> {
    match *e {
        DecodeError::Length { .. } | DecodeError::Empty => None,
        DecodeError::UnknownOpcode { at, .. }
        | DecodeError::ReservedField { at, .. }
        | DecodeError::BadRegister { at, .. }
        | DecodeError::WritesR10 { at }
        | DecodeError::BadLdImm64 { at, .. }
        | DecodeError::TargetOutOfRange { at, .. }
        | DecodeError::TargetInLdImm64 { at, .. }
        | DecodeError::FallsOffEnd { at } => Some(at),
    }
}

/// Links every program.
pub(super) fn link_programs(
    input: &Input<'_, '_>,
    funcs: &Functions,
    sections: &BTreeMap<usize, SecCode>,
) -> Result<Linked, LinkError> {
    let elf = input.elf;
    let mut programs = Vec::new();
    for (fi, f) in funcs.list.iter().enumerate() {
        let Some((prog_type, attach)) = &f.prog else { continue };
        let mut b = Builder { input, funcs, sections, raw: Vec::new(), placed: Vec::new() };
        b.append(fi);
        b.process(fi, 0)?;
        let mut line_info = Vec::new();
        let mut func_info = Vec::new();
        let mut functions = Vec::new();
        let mut core_relos_applied = 0;
        for &(pfi, base) in &b.placed {
            let pf = &funcs.list[pfi];
            functions.push((pf.name.clone(), base));
            let range = pf.start..pf.start + pf.slots;
            let sec_name = &elf.sections[pf.shndx].name;
            core_relos_applied += sections[&pf.shndx].core_slots.iter().filter(|s| range.contains(s)).count();
            let (Some(ext), Some(btf)) = (input.ext, input.btf) else { continue };
            for r in ext.line_info.get(sec_name).map(Vec::as_slice).unwrap_or(&[]) {
                let s = (r.insn_off / 8) as usize;
                if r.insn_off % 8 == 0 && range.contains(&s) {
                    line_info.push(LineInfo {
                        pc: base + s - pf.start,
                        file: btf.str_at(r.file_name_off).to_string(),
                        line: r.line,
                        col: r.col,
                        text: btf.str_at(r.line_off).to_string(),
                    });
                }
            }
            for r in ext.func_info.get(sec_name).map(Vec::as_slice).unwrap_or(&[]) {
                let s = (r.insn_off / 8) as usize;
                if r.insn_off % 8 == 0 && range.contains(&s) {
                    func_info.push(FuncInfo {
                        pc: base + s - pf.start,
                        name: btf.name(r.type_id).to_string(),
                        type_id: r.type_id,
                    });
                }
            }
        }
        line_info.sort_by_key(|l| l.pc);
        func_info.sort_by_key(|l| l.pc);
        let code = decode(&b.raw).map_err(|e| {
            let at = decode_error_slot(&e);
            let source_line = at.and_then(|pc| {
                let i = line_info.partition_point(|l| l.pc <= pc).checked_sub(1)?;
                let l = &line_info[i];
                Some(format!("{}:{}: {}", l.file, l.line, l.text.trim()))
            });
            LinkError {
                file: elf.file.clone(),
                section: elf.sections[f.shndx].name.clone(),
                program: Some(f.name.clone()),
                insn: at,
                source_line,
                kind: Box::new(LinkErrorKind::Decode(e)),
            }
        })?;
        programs.push(Program {
            name: f.name.clone(),
            section: elf.sections[f.shndx].name.clone(),
            prog_type: *prog_type,
            attach: attach.clone(),
            code,
            line_info,
            func_info,
            core_relos_applied,
            functions,
        });
    }
    let subprograms = funcs.list.iter().filter(|f| f.prog.is_none()).map(|f| f.name.clone()).collect();
    Ok(Linked { programs, subprograms })
}
