//! `.BTF.ext`: per-section function info, line info and CO-RE relocation records.
//!
//! Layout (kernel `btf_ext_header`, libbpf `btf_ext.c`): a header with offsets/lengths of three
//! sub-sections relative to the header's end; each sub-section is a record size followed by blocks of
//! `{ sec_name_off, num_info, records[num_info] }`. Record sizes may grow in future versions, so records
//! are read at the announced stride and only their known prefix is decoded. `insn_off` is in bytes from
//! the start of the ELF section, as clang writes it.

use super::{Btf, BtfError, Cursor};
use std::collections::BTreeMap;

/// A function's BTF type at an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfoRec {
    /// Byte offset in the section.
    pub insn_off: u32,
    /// The FUNC type id.
    pub type_id: u32,
}

/// A source position at an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfoRec {
    /// Byte offset in the section.
    pub insn_off: u32,
    /// File name string offset.
    pub file_name_off: u32,
    /// Source line text string offset.
    pub line_off: u32,
    /// Line number.
    pub line: u32,
    /// Column.
    pub col: u32,
}

/// A CO-RE relocation record (`struct bpf_core_relo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreReloRec {
    /// Byte offset in the section.
    pub insn_off: u32,
    /// Root type id in the object's BTF.
    pub type_id: u32,
    /// Access string offset (`"0:1:2"`).
    pub access_str_off: u32,
    /// `enum bpf_core_relo_kind`.
    pub kind: u32,
}

/// Parsed `.BTF.ext`, by ELF section name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// Function info per section.
    pub func_info: BTreeMap<String, Vec<FuncInfoRec>>,
    /// Line info per section.
    pub line_info: BTreeMap<String, Vec<LineInfoRec>>,
    /// CO-RE relocations per section.
    pub core_relos: BTreeMap<String, Vec<CoreReloRec>>,
}

impl BtfExt {
    /// Parses `.BTF.ext`; section names and strings are looked up in `btf` and must be valid.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, BtfError> {
        let what = ".BTF.ext";
        let c = Cursor { data, what };
        let hdr = c.bytes(0, 8, "header")?;
        let magic = u16::from_le_bytes([hdr[0], hdr[1]]);
        if magic != super::BTF_MAGIC {
            return Err(BtfError::BadMagic { what: what.into(), magic });
        }
        if hdr[2] != 1 {
            return Err(BtfError::BadHeader { what: what.into(), detail: format!("version {} (expected 1)", hdr[2]) });
        }
        let hdr_len = c.u32_at(4, "header")? as usize;
        if hdr_len < 24 {
            return Err(BtfError::BadHeader { what: what.into(), detail: format!("hdr_len {hdr_len} < 24") });
        }
        c.bytes(0, hdr_len, "header")?;
        let sub = |field: usize| -> Result<(usize, usize), BtfError> {
            Ok((c.u32_at(field, "header")? as usize, c.u32_at(field + 4, "header")? as usize))
        };
        let mut ext = BtfExt::default();
        let (off, len) = sub(8)?;
        for_each_record(&c, btf, hdr_len, off, len, 8, "func_info", |sec, r| {
            ext.func_info.entry(sec.to_string()).or_default().push(FuncInfoRec { insn_off: r[0], type_id: r[1] });
            Ok(())
        })?;
        let (off, len) = sub(16)?;
        for_each_record(&c, btf, hdr_len, off, len, 16, "line_info", |sec, r| {
            let check = |o: u32, field: &str| {
                btf.try_str(o).map(|_| ()).ok_or_else(|| BtfError::BadString {
                    what: what.into(),
                    context: format!("line_info {field} in section `{sec}`"),
                    off: o,
                    len: btf.strings_len(),
                })
            };
            check(r[1], "file name")?;
            check(r[2], "line text")?;
            ext.line_info.entry(sec.to_string()).or_default().push(LineInfoRec {
                insn_off: r[0],
                file_name_off: r[1],
                line_off: r[2],
                line: r[3] >> 10,
                col: r[3] & 0x3ff,
            });
            Ok(())
        })?;
        if hdr_len >= 32 {
            let (off, len) = sub(24)?;
            for_each_record(&c, btf, hdr_len, off, len, 16, "core_relo", |sec, r| {
                if btf.try_str(r[2]).is_none() {
                    return Err(BtfError::BadString {
                        what: what.into(),
                        context: format!("CO-RE access string in section `{sec}`"),
                        off: r[2],
                        len: btf.strings_len(),
                    });
                }
                ext.core_relos.entry(sec.to_string()).or_default().push(CoreReloRec {
                    insn_off: r[0],
                    type_id: r[1],
                    access_str_off: r[2],
                    kind: r[3],
                });
                Ok(())
            })?;
        }
        Ok(ext)
    }

    /// Total number of CO-RE relocation records.
    pub fn core_relo_count(&self) -> usize {
        self.core_relos.values().map(Vec::len).sum()
    }
}

/// Walks one sub-section, calling `f(section_name, first four u32 of the record)` per record.
#[allow(clippy::too_many_arguments)]
fn for_each_record(
    c: &Cursor<'_>,
    btf: &Btf,
    hdr_len: usize,
    off: usize,
    len: usize,
    min_rec: usize,
    name: &str,
    mut f: impl FnMut(&str, [u32; 4]) -> Result<(), BtfError>,
) -> Result<(), BtfError> {
    if len == 0 {
        return Ok(());
    }
    let start = hdr_len.saturating_add(off);
    let data = c.bytes(start, len, name)?;
    let s = Cursor { data, what: c.what };
    let rec_size = s.u32_at(0, &format!("{name} record size"))? as usize;
    if rec_size < min_rec || !rec_size.is_multiple_of(4) {
        return Err(BtfError::Invalid {
            what: c.what.into(),
            detail: format!("{name} record size {rec_size} is invalid (minimum {min_rec}, multiple of 4)"),
        });
    }
    let mut pos = 4;
    while pos < data.len() {
        let sec_off = s.u32_at(pos, &format!("{name} block header"))?;
        let num = s.u32_at(pos + 4, &format!("{name} block header"))? as usize;
        pos += 8;
        let sec = btf.try_str(sec_off).ok_or_else(|| BtfError::BadString {
            what: c.what.into(),
            context: format!("{name} section name"),
            off: sec_off,
            len: btf.strings_len(),
        })?;
        if num == 0 {
            return Err(BtfError::Invalid {
                what: c.what.into(),
                detail: format!("{name} block for `{sec}` is empty"),
            });
        }
        let total = num.saturating_mul(rec_size);
        s.bytes(pos, total, &format!("{num} {name} records of section `{sec}`"))?;
        for _ in 0..num {
            let mut r = [0u32; 4];
            for (i, v) in r.iter_mut().enumerate().take(min_rec / 4) {
                *v = s.u32_at(pos + 4 * i, name)?;
            }
            f(sec, r)?;
            pos += rec_size;
        }
    }
    Ok(())
}
