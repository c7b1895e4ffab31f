//! Printing map keys and values by their BTF type, as `bpftool map dump` does for objects with BTF:
//! integers in decimal (chars as characters, `_Bool` as true/false), enums by name, pointers in hex,
//! `char` arrays as strings, other arrays as `[a, b]`, structs and unions as `{name: value}` (bitfields
//! extracted). Anything the bytes cannot hold, or nesting deeper than 16, falls back to hex.

use super::Btf;
use super::types::Kind;

/// `BTF_INT_SIGNED`.
const INT_SIGNED: u8 = 1;
/// `BTF_INT_CHAR`.
const INT_CHAR: u8 = 2;
/// `BTF_INT_BOOL`.
const INT_BOOL: u8 = 4;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn le(bytes: &[u8]) -> u128 {
    bytes.iter().rev().fold(0u128, |acc, &b| (acc << 8) | u128::from(b))
}

/// `bytes` printed as BTF type `id`.
pub fn format_value(btf: &Btf, id: u32, bytes: &[u8]) -> String {
    format_at(btf, id, bytes, 0)
}

fn format_at(btf: &Btf, id: u32, bytes: &[u8], depth: u32) -> String {
    let Some(ty) = btf.get(id) else { return hex(bytes) };
    if depth > 16 {
        return hex(bytes);
    }
    match &ty.kind {
        Kind::Typedef(t) | Kind::Volatile(t) | Kind::Const(t) | Kind::Restrict(t) | Kind::TypeTag(t) => {
            format_at(btf, *t, bytes, depth + 1)
        }
        Kind::Int { size, encoding, .. } => {
            let n = *size as usize;
            if bytes.len() < n || n == 0 || n > 16 {
                return hex(bytes);
            }
            let raw = le(&bytes[..n]);
            if encoding & INT_BOOL != 0 {
                return (raw != 0).to_string();
            }
            if encoding & INT_CHAR != 0 && n == 1 {
                let c = raw as u8;
                return if c.is_ascii_graphic() || c == b' ' { format!("'{}'", c as char) } else { format!("{c}") };
            }
            if encoding & INT_SIGNED != 0 {
                let shift = 128 - 8 * n as u32;
                (((raw << shift) as i128) >> shift).to_string()
            } else {
                raw.to_string()
            }
        }
        Kind::Enum { size, signed, values, .. } => {
            let n = *size as usize;
            if bytes.len() < n || n == 0 || n > 8 {
                return hex(bytes);
            }
            let raw = le(&bytes[..n]) as u64;
            let v = if *signed { (((raw as i128) << (128 - 8 * n)) >> (128 - 8 * n)) as i64 } else { raw as i64 };
            values
                .iter()
                .find(|e| e.value == v)
                .map_or_else(|| v.to_string(), |e| btf.try_str(e.name_off).unwrap_or("").to_string())
        }
        Kind::Ptr(_) => {
            if bytes.len() < 8 {
                return hex(bytes);
            }
            format!("{:#x}", le(&bytes[..8]) as u64)
        }
        Kind::Float { size } => match (*size, bytes.len()) {
            (4, l) if l >= 4 => f32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")).to_string(),
            (8, l) if l >= 8 => f64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")).to_string(),
            _ => hex(bytes),
        },
        Kind::Array { elem, nelems, .. } => {
            let Ok(esize) = btf.resolve_size(*elem) else { return hex(bytes) };
            let esize = esize as usize;
            let n = *nelems as usize;
            if esize == 0 || bytes.len() < esize.saturating_mul(n) {
                return hex(bytes);
            }
            let is_char = btf.skip_mods_and_typedefs(*elem).ok().and_then(|e| btf.get(e)).is_some_and(|t| {
                matches!(t.kind, Kind::Int { size: 1, encoding, .. }
                        if encoding & INT_CHAR != 0 || btf.try_str(t.name_off) == Some("char"))
            });
            if is_char {
                let s = &bytes[..n];
                let end = s.iter().position(|&b| b == 0).unwrap_or(n);
                return format!("{:?}", String::from_utf8_lossy(&s[..end]));
            }
            let items: Vec<String> =
                (0..n).map(|i| format_at(btf, *elem, &bytes[i * esize..(i + 1) * esize], depth + 1)).collect();
            format!("[{}]", items.join(", "))
        }
        Kind::Struct { size, members } | Kind::Union { size, members } => {
            if bytes.len() < *size as usize {
                return hex(bytes);
            }
            let mut fields = Vec::with_capacity(members.len());
            for m in members {
                let name = btf.try_str(m.name_off).filter(|n| !n.is_empty()).unwrap_or("(anon)");
                let value = if m.bitfield_size > 0 {
                    let start = (m.bit_offset / 8) as usize;
                    let end = ((m.bit_offset + m.bitfield_size).div_ceil(8) as usize).min(bytes.len());
                    if start >= end || end - start > 16 {
                        hex(&bytes[start.min(bytes.len())..end])
                    } else {
                        let raw = le(&bytes[start..end]) >> (m.bit_offset % 8);
                        (raw & ((1u128 << m.bitfield_size) - 1)).to_string()
                    }
                } else {
                    let off = (m.bit_offset / 8) as usize;
                    let len = btf.resolve_size(m.ty).map_or(0, |s| s as usize);
                    match bytes.get(off..off.saturating_add(len)) {
                        Some(b) => format_at(btf, m.ty, b, depth + 1),
                        None => hex(bytes.get(off..).unwrap_or(&[])),
                    }
                };
                fields.push(format!("{name}: {value}"));
            }
            format!("{{{}}}", fields.join(", "))
        }
        Kind::Datasec { vars, .. } => {
            let fields: Vec<String> = vars
                .iter()
                .map(|v| {
                    let (name, ty) = match btf.get(v.ty).map(|t| (&t.kind, t.name_off)) {
                        Some((Kind::Var { ty, .. }, name_off)) => (btf.try_str(name_off).unwrap_or("?"), *ty),
                        _ => ("?", v.ty),
                    };
                    let (off, len) = (v.offset as usize, v.size as usize);
                    let value = match bytes.get(off..off.saturating_add(len)) {
                        Some(b) => format_at(btf, ty, b, depth + 1),
                        None => "?".to_string(),
                    };
                    format!("{name}: {value}")
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        _ => hex(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{LoadOptions, Object};

    /// The globals example's sections, typed by its BTF (names and values from examples/globals.bpf.c).
    #[test]
    fn formats_global_data_by_btf() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/globals.bpf.o");
        let obj = Object::load(&path, &LoadOptions::default()).unwrap();
        let btf = obj.btf.as_ref().unwrap();
        let bss = obj.maps.iter().find(|m| m.name.ends_with(".bss")).unwrap();
        let zero = vec![0u8; bss.value_size as usize];
        let text = format_value(btf, bss.btf_value_type_id, &zero);
        assert!(text.contains("write_calls: 0") && text.contains("class_counts: [0, 0, 0, 0]"), "{text}");
        let rodata = obj.maps.iter().find(|m| m.name.ends_with(".rodata")).unwrap();
        let text = format_value(btf, rodata.btf_value_type_id, rodata.init.as_deref().unwrap());
        assert!(text.contains("large_write: 1000") && text.contains("debug: false"), "{text}");
        assert!(text.contains("\"write fd=%u count=%llu\""), "{text}");
    }
}
