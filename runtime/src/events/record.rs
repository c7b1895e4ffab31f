//! Tracepoint records from named field values, and back (the replay format's `fields` object).
//!
//! Layout rules, the kernel's (`include/trace/trace_events.h`, `perf_trace_buf_alloc`):
//! - the fixed part is `format.record_size()` bytes; the common header gets `common_type` = the format's
//!   ID and `common_pid` = the event's tid unless the fields say otherwise;
//! - `__data_loc` data follows the fixed part in field order; its 32-bit descriptor is
//!   `offset | length << 16` (offset from the record start; for `__rel_loc`, from the end of the
//!   descriptor field), and strings include their NUL;
//! - the length is the kernel's `sizeof(struct)` ([`struct_size`]: the fixed part rounded up to its
//!   alignment) plus the dynamic data, zero-padded to `len % 8 == 4`, because perf stores the record after
//!   a `u32` size and keeps samples 8-byte aligned (`perf_trace_##call`) — live records have exactly that
//!   length.
//!
//! Values: integers as JSON numbers (negative ones are stored in two's complement) or strings
//! (`"0x7ffe1000"`, `"-100"`); `char` arrays and `__data_loc char[]` as strings or arrays of byte
//! values; other arrays as arrays of integers. Integers must fit the field's size.

use serde_json::{Map, Value};

use crate::abi::EventMeta;
use crate::ctx::{TpField, TracepointFormat};

/// A field value that does not fit its field, or a field the format does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The format has no such field.
    #[error("tracepoint {tracepoint} has no field `{field}` (fields: {known})")]
    UnknownField {
        /// Event name.
        tracepoint: String,
        /// The field given.
        field: String,
        /// The fields it has.
        known: String,
    },
    /// The value does not fit.
    #[error("field `{field}` ({ty}, {size} bytes): {message}")]
    BadValue {
        /// Field.
        field: String,
        /// C type.
        ty: String,
        /// Size in bytes.
        size: u32,
        /// What is wrong.
        message: String,
    },
    /// A base record does not fit the format.
    #[error("record is {len} bytes but the format's fixed part is {fixed} bytes")]
    ShortRecord {
        /// Given length.
        len: usize,
        /// Needed.
        fixed: u32,
    },
}

/// Parses an integer of `size` bytes: a JSON number or a decimal/`0x` hex string, negative values in
/// two's complement. Returns the value's low `size` bytes as a `u64`.
pub fn int_bits(v: &Value, size: u32) -> Result<u64, String> {
    let bits = size * 8;
    let (neg, mag): (bool, u128) = match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                (false, u128::from(u))
            } else if let Some(i) = n.as_i64() {
                (true, u128::from(i.unsigned_abs()))
            } else {
                return Err(format!("`{n}` is not an integer"));
            }
        }
        Value::String(s) => {
            let t = s.trim();
            let (neg, t) = match t.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, t),
            };
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u128::from_str_radix(h, 16),
                None => t.parse::<u128>(),
            };
            (neg, parsed.map_err(|_| format!("`{s}` is not an integer (decimal or 0x hex)"))?)
        }
        other => return Err(format!("expected an integer, found {}", kind(other))),
    };
    if neg {
        if mag > 1u128 << (bits - 1) {
            return Err(format!("{}{mag} does not fit in {bits} bits", "-"));
        }
        Ok((mag as u64).wrapping_neg() & mask(bits))
    } else {
        if mag > u128::from(mask(bits)) {
            return Err(format!("{mag} does not fit in {bits} bits"));
        }
        Ok(mag as u64)
    }
}

fn mask(bits: u32) -> u64 {
    if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn put(buf: &mut [u8], off: usize, size: u32, v: u64) {
    let bytes = v.to_ne_bytes();
    if cfg!(target_endian = "little") {
        buf[off..off + size as usize].copy_from_slice(&bytes[..size as usize]);
    } else {
        buf[off..off + size as usize].copy_from_slice(&bytes[8 - size as usize..]);
    }
}

fn get(buf: &[u8], off: usize, size: usize) -> u64 {
    let mut b = [0u8; 8];
    if cfg!(target_endian = "little") {
        b[..size].copy_from_slice(&buf[off..off + size]);
    } else {
        b[8 - size..].copy_from_slice(&buf[off..off + size]);
    }
    u64::from_ne_bytes(b)
}

fn is_char_type(ty: &str) -> bool {
    let t = ty.trim_start_matches("const ").trim_start_matches("unsigned ").trim_start_matches("signed ");
    t.starts_with("char")
}

/// `__rel_loc` fields: the offset counts from the end of the descriptor.
fn is_rel_loc(f: &TpField) -> bool {
    f.ty.starts_with("__rel_loc")
}

fn is_dynamic(f: &TpField) -> bool {
    f.data_loc || is_rel_loc(f)
}

/// Bytes for a string or a byte array.
fn bytes_value(v: &Value, nul: bool) -> Result<Vec<u8>, String> {
    match v {
        Value::String(s) => {
            if s.as_bytes().contains(&0) {
                return Err("string contains a NUL byte; give an array of byte values instead".into());
            }
            let mut b = s.as_bytes().to_vec();
            if nul {
                b.push(0);
            }
            Ok(b)
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| int_bits(x, 1).map(|b| b as u8).map_err(|e| format!("[{i}]: {e}")))
            .collect(),
        other => Err(format!("expected a string or an array of bytes, found {}", kind(other))),
    }
}

fn field_err(f: &TpField, message: String) -> RecordError {
    RecordError::BadValue { field: f.name.clone(), ty: f.ty.clone(), size: f.size, message }
}

/// Writes a fixed-size (non-`__data_loc`) field.
fn put_fixed(buf: &mut [u8], f: &TpField, v: &Value) -> Result<(), RecordError> {
    let off = f.offset as usize;
    let end = off + f.size as usize;
    match (f.array_len, v) {
        (Some(n), _) if is_char_type(&f.ty) && v.is_string() => {
            let b = bytes_value(v, false).map_err(|m| field_err(f, m))?;
            if b.len() > f.size as usize {
                return Err(field_err(f, format!("string of {} bytes does not fit in char[{n}]", b.len())));
            }
            buf[off..end].fill(0);
            buf[off..off + b.len()].copy_from_slice(&b);
        }
        (Some(n), Value::Array(items)) => {
            if n == 0 || !f.size.is_multiple_of(n) {
                return Err(field_err(f, format!("cannot split {} bytes into {n} elements", f.size)));
            }
            let es = f.size / n;
            if items.len() > n as usize {
                return Err(field_err(f, format!("{} elements given for an array of {n}", items.len())));
            }
            if !matches!(es, 1 | 2 | 4 | 8) {
                return Err(field_err(f, format!("element size {es} is not 1, 2, 4 or 8")));
            }
            buf[off..end].fill(0);
            for (i, x) in items.iter().enumerate() {
                let bits = int_bits(x, es).map_err(|m| field_err(f, format!("[{i}]: {m}")))?;
                put(buf, off + i * es as usize, es, bits);
            }
        }
        (Some(_), other) => return Err(field_err(f, format!("expected an array, found {}", kind(other)))),
        (None, _) if matches!(f.size, 1 | 2 | 4 | 8) => {
            let bits = int_bits(v, f.size).map_err(|m| field_err(f, m))?;
            put(buf, off, f.size, bits);
        }
        (None, _) => {
            let b = bytes_value(v, false).map_err(|m| field_err(f, m))?;
            if b.len() != f.size as usize {
                return Err(field_err(f, format!("{} bytes given, the field has {}", b.len(), f.size)));
            }
            buf[off..end].copy_from_slice(&b);
        }
    }
    Ok(())
}

/// Builds the record of `format` for an event of task `meta.tid`. With `base` (a complete record, e.g.
/// one captured live with padding the fields cannot express), the fields overwrite its bytes and
/// `__data_loc` data must keep its length; without, the record is laid out from scratch.
pub fn build(
    format: &TracepointFormat,
    meta: &EventMeta,
    base: Option<&[u8]>,
    fields: &Map<String, Value>,
) -> Result<Vec<u8>, RecordError> {
    let fixed = format.record_size();
    for key in fields.keys() {
        if format.field(key).is_none() {
            let known: Vec<&str> = format.fields.iter().map(|f| f.name.as_str()).collect();
            return Err(RecordError::UnknownField {
                tracepoint: format.name.clone(),
                field: key.clone(),
                known: known.join(", "),
            });
        }
    }
    let mut buf = match base {
        Some(b) if b.len() < fixed as usize => return Err(RecordError::ShortRecord { len: b.len(), fixed }),
        Some(b) => b.to_vec(),
        None => {
            let mut b = vec![0u8; fixed as usize];
            if let Some(f) = format.field("common_type") {
                put(&mut b, f.offset as usize, f.size.min(8), u64::from(format.id) & mask(f.size * 8));
            }
            if let Some(f) = format.field("common_pid") {
                put(&mut b, f.offset as usize, f.size.min(8), u64::from(meta.tid) & mask(f.size * 8));
            }
            b
        }
    };
    for f in &format.fields {
        let Some(v) = fields.get(&f.name) else { continue };
        if !is_dynamic(f) {
            put_fixed(&mut buf, f, v)?;
            continue;
        }
        if f.size != 4 {
            return Err(field_err(f, "a __data_loc descriptor must be 4 bytes".into()));
        }
        let data =
            bytes_value(v, is_char_type(f.ty.trim_start_matches("__rel_loc").trim())).map_err(|m| field_err(f, m))?;
        let rel_base = if is_rel_loc(f) { f.offset + 4 } else { 0 } as usize;
        if base.is_some() {
            let d = get(&buf, f.offset as usize, 4) as usize;
            let (off, len) = ((d & 0xffff) + rel_base, d >> 16);
            if len != data.len() || off + len > buf.len() {
                return Err(field_err(f, format!("{} bytes given, the record holds {len} at {off}", data.len())));
            }
            buf[off..off + len].copy_from_slice(&data);
        } else {
            let off = buf.len();
            let rel = off - rel_base;
            if rel > 0xffff || data.len() > 0xffff {
                return Err(field_err(f, format!("{} bytes at offset {off} do not fit a __data_loc", data.len())));
            }
            put(&mut buf, f.offset as usize, 4, (rel | data.len() << 16) as u64);
            buf.extend_from_slice(&data);
        }
    }
    if base.is_none() {
        let dynamic = buf.len() - fixed as usize;
        let total = (struct_size(format) as usize + dynamic + 4).div_ceil(8) * 8 - 4;
        buf.resize(total.max(buf.len()), 0);
    }
    Ok(buf)
}

/// `sizeof` the kernel's record struct: the fixed part rounded up to the largest field alignment. The
/// `syscalls:sys_enter_*` records are `struct syscall_trace_enter { ent; int nr; unsigned long args[]; }`,
/// 8-aligned even when the format lists no argument (e.g. `sys_enter_getppid`: 12 bytes of fields, 16 of
/// struct, 20 of perf record).
pub fn struct_size(format: &TracepointFormat) -> u32 {
    let natural = |f: &TpField| -> u32 {
        let unit = if is_dynamic(f) {
            4
        } else {
            match f.array_len {
                Some(n) if n > 0 && f.size.is_multiple_of(n) => f.size / n,
                Some(_) => 1,
                None => f.size,
            }
        };
        if unit.is_power_of_two() { unit.min(8) } else { 1 }
    };
    let mut align = format.fields.iter().map(natural).max().unwrap_or(1);
    if format.name.starts_with("sys_enter_") && format.field("__syscall_nr").is_some() {
        align = 8;
    }
    format.record_size().div_ceil(align) * align
}

fn signed_value(bits: u64, size: usize) -> i64 {
    let shift = 64 - 8 * size as u32;
    ((bits << shift) as i64) >> shift
}

/// Whether the C type is signed even though tracefs says `signed:0` (syscall arguments are stored as
/// `unsigned long` whatever their C type, e.g. `int dfd` of 8 bytes): the writer prints those as signed.
fn looks_signed(ty: &str) -> bool {
    let t = ty.trim_start_matches("const ").trim();
    !t.contains("unsigned")
        && ["int", "long", "short", "pid_t", "s8", "s16", "s32", "s64", "ssize_t", "loff_t", "off_t"]
            .iter()
            .any(|p| t == *p || t.starts_with(&format!("{p} ")) || t == format!("{p}[]"))
}

fn number(bits: u64, size: usize, signed: bool, pointer: bool) -> Value {
    if pointer {
        Value::String(format!("{bits:#x}"))
    } else if signed {
        Value::from(signed_value(bits, size))
    } else {
        Value::from(bits)
    }
}

fn text_or_bytes(b: &[u8], nul_terminated: bool) -> Value {
    let body = if nul_terminated { b.strip_suffix(&[0]) } else { Some(b) };
    match body.map(std::str::from_utf8) {
        Some(Ok(s)) if !s.contains('\0') => Value::String(s.to_string()),
        _ => Value::Array(b.iter().map(|&x| Value::from(x)).collect()),
    }
}

/// The fields of `record` as JSON values (common fields only where they differ from what [`build`]
/// derives), and whether `build` reproduces the record byte for byte from them.
pub fn decode(format: &TracepointFormat, meta: &EventMeta, record: &[u8]) -> (Map<String, Value>, bool) {
    let mut out = Map::new();
    for f in &format.fields {
        let (off, size) = (f.offset as usize, f.size as usize);
        if off + size > record.len() {
            continue;
        }
        let signed = f.signed || looks_signed(&f.ty);
        let v = if is_dynamic(f) {
            let d = get(record, off, 4) as usize;
            let rel_base = if is_rel_loc(f) { off + 4 } else { 0 };
            let (start, len) = ((d & 0xffff) + rel_base, d >> 16);
            let Some(b) = record.get(start..start + len) else { continue };
            if is_char_type(f.ty.trim_start_matches("__rel_loc").trim()) {
                text_or_bytes(b, true)
            } else {
                Value::Array(b.iter().map(|&x| Value::from(x)).collect())
            }
        } else if let Some(n) = f.array_len {
            let b = &record[off..off + size];
            if is_char_type(&f.ty) {
                let end = b.iter().position(|&x| x == 0).unwrap_or(b.len());
                if b[end..].iter().all(|&x| x == 0) {
                    text_or_bytes(&b[..end], false)
                } else {
                    Value::Array(b.iter().map(|&x| Value::from(x)).collect())
                }
            } else if n > 0 && size % n as usize == 0 && matches!(size / n as usize, 1 | 2 | 4 | 8) {
                let es = size / n as usize;
                Value::Array((0..n as usize).map(|i| number(get(b, i * es, es), es, signed, false)).collect())
            } else {
                Value::Array(b.iter().map(|&x| Value::from(x)).collect())
            }
        } else if matches!(size, 1 | 2 | 4 | 8) {
            let bits = get(record, off, size);
            if f.common {
                let default = match f.name.as_str() {
                    "common_type" => u64::from(format.id) & mask(f.size * 8),
                    "common_pid" => u64::from(meta.tid) & mask(f.size * 8),
                    _ => 0,
                };
                if bits == default {
                    continue;
                }
            }
            number(bits, size, signed, f.ty.contains('*'))
        } else {
            Value::Array(record[off..off + size].iter().map(|&x| Value::from(x)).collect())
        };
        out.insert(f.name.clone(), v);
    }
    let exact = build(format, meta, None, &out).is_ok_and(|b| b == record);
    (out, exact)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ints() {
        assert_eq!(int_bits(&json!(-1), 4), Ok(0xffff_ffff));
        assert_eq!(int_bits(&json!(-100), 8), Ok(0xffff_ffff_ffff_ff9c));
        assert_eq!(int_bits(&json!("0xff"), 1), Ok(0xff));
        assert_eq!(int_bits(&json!("-0x80"), 1), Ok(0x80));
        assert!(int_bits(&json!(256), 1).is_err());
        assert!(int_bits(&json!(-129), 1).is_err());
        assert!(int_bits(&json!(1.5), 8).is_err());
        assert!(int_bits(&json!("zz"), 8).is_err());
        assert_eq!(int_bits(&json!(u64::MAX), 8), Ok(u64::MAX));
    }
}
