//! Per-section relocation: CO-RE patches, map/global-data/function references, call targets.
//!
//! Works on a copy of each executable section's bytes. After this pass a section's `lddw`s carry map
//! indices (`src` 5/6) or `src` 4 for function pointers (immediate fixed up later, per program), and every
//! BPF-to-BPF call has a resolved `(section, slot)` target in `calls`.

use super::program::{Functions, error_at};
use super::{Input, LinkError, LinkErrorKind};
use crate::btf::Btf;
use crate::btf::core::{self, CoreTarget};
use crate::elf::TargetBtf;
use crate::elf::maps::data_kind;
use crate::elf::reader::{R_BPF_64_32, R_BPF_64_64, reloc_name};
use std::collections::{BTreeMap, HashMap};

/// A relocated executable section.
pub(super) struct SecCode {
    /// Relocated bytes.
    pub raw: Vec<u8>,
    /// Call instruction slot → (target section, target slot).
    pub calls: HashMap<usize, (usize, i64)>,
    /// Function-pointer lddw slot → (target section, target slot).
    pub funcrefs: HashMap<usize, (usize, i64)>,
    /// Slots that received a CO-RE relocation.
    pub core_slots: Vec<usize>,
}

const OP_LDDW: u8 = 0x18;
const OP_CALL: u8 = 0x85;

fn set_imm(raw: &mut [u8], slot: usize, imm: i32) {
    raw[slot * 8 + 4..slot * 8 + 8].copy_from_slice(&imm.to_le_bytes());
}

fn imm(raw: &[u8], slot: usize) -> i32 {
    let b = &raw[slot * 8 + 4..slot * 8 + 8];
    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn set_src(raw: &mut [u8], slot: usize, src: u8) {
    raw[slot * 8 + 1] = (raw[slot * 8 + 1] & 0x0f) | (src << 4);
}

fn load_target(t: &TargetBtf) -> Result<std::borrow::Cow<'_, Btf>, LinkErrorKind> {
    Ok(match t {
        TargetBtf::Vmlinux => std::borrow::Cow::Owned(
            Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux")).map_err(LinkErrorKind::TargetBtf)?,
        ),
        TargetBtf::File(p) => std::borrow::Cow::Owned(Btf::from_file(p).map_err(LinkErrorKind::TargetBtf)?),
        TargetBtf::Parsed(b) => std::borrow::Cow::Borrowed(b.as_ref()),
    })
}

/// Relocates every executable section that holds functions.
pub(super) fn relocate_sections(
    input: &Input<'_, '_>,
    funcs: &Functions,
) -> Result<BTreeMap<usize, SecCode>, LinkError> {
    let elf = input.elf;
    let mut out = BTreeMap::new();
    let has_core = input
        .ext
        .is_some_and(|e| e.core_relos.keys().any(|name| elf.sections.iter().any(|s| s.is_exec() && &s.name == name)));
    let target_btf = if has_core {
        let fail = |kind| LinkError {
            file: elf.file.clone(),
            section: ".BTF.ext".into(),
            program: None,
            insn: None,
            source_line: None,
            kind: Box::new(kind),
        };
        if input.btf.is_none() {
            return Err(fail(LinkErrorKind::NoBtf));
        }
        Some(load_target(input.target).map_err(fail)?)
    } else {
        None
    };
    let target = target_btf.as_deref().map(CoreTarget::new);
    for sec in elf.sections.iter().filter(|s| s.is_exec()) {
        if !funcs.list.iter().any(|f| f.shndx == sec.index) {
            continue;
        }
        let shndx = sec.index;
        let err = |slot: Option<usize>, kind| error_at(input, funcs, shndx, slot, kind);
        let mut raw = sec.data.to_vec();
        let slots = raw.len() / 8;
        let mut core_slots = Vec::new();
        if let (Some(ext), Some(target), Some(local)) = (input.ext, &target, input.btf) {
            for rec in ext.core_relos.get(&sec.name).map(Vec::as_slice).unwrap_or(&[]) {
                let slot = rec.insn_off as usize / 8;
                if rec.insn_off % 8 != 0 || slot >= slots {
                    return Err(err(
                        None,
                        LinkErrorKind::BadExtRecord {
                            what: "CO-RE relocation",
                            offset: rec.insn_off,
                            detail: format!("not an instruction of the section ({slots} instructions)"),
                        },
                    ));
                }
                let res = core::resolve(local, target, rec).map_err(|e| err(Some(slot), e.into()))?;
                let end = (slot * 8 + 16).min(raw.len());
                core::patch_insn(&mut raw[slot * 8..end], &res, local, rec).map_err(|e| err(Some(slot), e.into()))?;
                core_slots.push(slot);
            }
        }
        let mut calls = HashMap::new();
        let mut funcrefs = HashMap::new();
        for r in elf.relocs_for(shndx) {
            if r.offset % 8 != 0 {
                return Err(err(None, LinkErrorKind::Misaligned { reloc: r.number, offset: r.offset }));
            }
            let slot = (r.offset / 8) as usize;
            let s = &elf.symbols[r.sym];
            let opcode = raw[slot * 8];
            let src = raw[slot * 8 + 1] >> 4;
            let bad_type = |insn, expected| LinkErrorKind::BadRelocType {
                symbol: s.name.clone(),
                rtype: r.rtype,
                name: reloc_name(r.rtype),
                insn,
                expected,
            };
            if s.shndx == 0 {
                return Err(err(Some(slot), LinkErrorKind::Extern { symbol: s.name.clone() }));
            }
            let Some(tsec) = elf.sections.get(s.shndx) else {
                return Err(err(
                    Some(slot),
                    LinkErrorKind::UnknownTarget { symbol: s.name.clone(), section: elf.symbol_section_name(s) },
                ));
            };
            if opcode == OP_CALL && src == 1 {
                if r.rtype != R_BPF_64_32 {
                    return Err(err(Some(slot), bad_type("a BPF-to-BPF call", "R_BPF_64_32")));
                }
                if !tsec.is_exec() {
                    return Err(err(
                        Some(slot),
                        LinkErrorKind::UnknownTarget { symbol: s.name.clone(), section: tsec.name.clone() },
                    ));
                }
                let target = (s.value / 8) as i64 + i64::from(imm(&raw, slot)) + 1;
                calls.insert(slot, (s.shndx, target));
                continue;
            }
            if opcode != OP_LDDW || slot + 1 >= slots {
                return Err(err(Some(slot), LinkErrorKind::NotRelocatable { symbol: s.name.clone(), opcode }));
            }
            if r.rtype != R_BPF_64_64 {
                return Err(err(Some(slot), bad_type("lddw", "R_BPF_64_64")));
            }
            let addend = i64::from(imm(&raw, slot));
            if tsec.is_exec() {
                let byte = (s.value as i64).saturating_add(addend);
                if byte % 8 != 0 {
                    return Err(err(
                        Some(slot),
                        LinkErrorKind::BadCallTarget {
                            what: "function reference",
                            target: byte,
                            section: tsec.name.clone(),
                        },
                    ));
                }
                funcrefs.insert(slot, (s.shndx, byte / 8));
                set_src(&mut raw, slot, 4);
                continue;
            }
            let is_map_sec = tsec.name == ".maps" || tsec.name == "maps";
            let found = if is_map_sec {
                input.map_syms.iter().position(|m| m.shndx == s.shndx && m.offset == s.value)
            } else if data_kind(&tsec.name).is_some() {
                input.map_syms.iter().position(|m| m.shndx == s.shndx)
            } else {
                None
            };
            let Some(idx) = found else {
                return Err(err(
                    Some(slot),
                    LinkErrorKind::UnknownTarget { symbol: s.name.clone(), section: tsec.name.clone() },
                ));
            };
            if is_map_sec {
                set_src(&mut raw, slot, 5);
                set_imm(&mut raw, slot, idx as i32);
                set_imm(&mut raw, slot + 1, 0);
            } else {
                let off = (s.value as i64).saturating_add(addend);
                let off = i32::try_from(off).map_err(|_| {
                    err(Some(slot), LinkErrorKind::UnknownTarget { symbol: s.name.clone(), section: tsec.name.clone() })
                })?;
                set_src(&mut raw, slot, 6);
                set_imm(&mut raw, slot, idx as i32);
                set_imm(&mut raw, slot + 1, off);
            }
        }
        // Calls without relocation stay inside their section: target = pc + imm + 1.
        let mut slot = 0;
        while slot < slots {
            if raw[slot * 8] == OP_CALL && raw[slot * 8 + 1] >> 4 == 1 && !calls.contains_key(&slot) {
                calls.insert(slot, (shndx, slot as i64 + i64::from(imm(&raw, slot)) + 1));
            }
            slot += if raw[slot * 8] == OP_LDDW { 2 } else { 1 };
        }
        out.insert(shndx, SecCode { raw, calls, funcrefs, core_slots });
    }
    Ok(out)
}
