//! `bpf_strncmp`, `bpf_strtol`, `bpf_strtoul` with the kernel's parsing rules (kernel/bpf/helpers.c over
//! lib/kstrtox.c): leading whitespace, one `-`, base 0 (auto: `0x` hex, `0` octal, else decimal), 8, 10
//! or 16 (an optional `0x` prefix), at most 63 characters considered; returns the characters consumed,
//! -EINVAL when nothing parses or for bad flags, -ERANGE on overflow. The result is written as 0 first.

use super::probe::{Space, read_str};
use super::{host, neg, read, write};
use crate::abi::TrapCode;
use crate::declare_helper;
use crate::exec::HelperCtx;
use crate::maps::errno::{EINVAL, ERANGE};

/// `strncmp(s1, s2, s1_sz)`: -1, 0 or 1, as the kernel's lib/string.c.
fn strncmp_body(cx: &mut HelperCtx<'_>, s1: u64, s1_sz: u64, s2: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 182) else { return 0 };
    let n = s1_sz as u32 as usize;
    let Some(a) = read(cx, s1, n) else { return 0 };
    let Some((b, _)) = read_str(cx, h, s2, n, Space::Kernel) else {
        cx.trap(TrapCode::HelperFault, s2);
        return 0;
    };
    for (i, &c1) in a.iter().enumerate() {
        let c2 = b.get(i).copied().unwrap_or(0);
        if c1 != c2 {
            return if c1 < c2 { -1i64 as u64 } else { 1 };
        }
        if c1 == 0 {
            break;
        }
    }
    0
}

const BASE_MASK: u64 = 0x1f;

/// The kernel's `__bpf_strtoull`: (consumed, value, negative) or a positive errno.
pub(crate) fn parse_u64(buf: &[u8], flags: u64) -> Result<(usize, u64, bool), i32> {
    let mut base = (flags & BASE_MASK) as u32;
    if buf.is_empty() || !matches!(base, 0 | 8 | 10 | 16) || flags & !BASE_MASK != 0 {
        return Err(EINVAL);
    }
    let mut i = buf.iter().take_while(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')).count();
    let neg = buf.get(i) == Some(&b'-');
    if neg {
        i += 1;
    }
    if i == buf.len() {
        return Err(EINVAL);
    }
    let s = &buf[i..buf.len().min(i + 63)];
    let at = |j: usize| s.get(j).copied().unwrap_or(0);
    let mut j = 0;
    if base == 0 {
        base = if at(0) == b'0' {
            if at(1).eq_ignore_ascii_case(&b'x') && at(2).is_ascii_hexdigit() { 16 } else { 8 }
        } else {
            10
        };
    }
    if base == 16 && at(0) == b'0' && at(1).eq_ignore_ascii_case(&b'x') {
        j = 2;
    }
    let start = j;
    let mut v: u64 = 0;
    let mut overflow = false;
    while j < s.len() {
        let d = match (s[j] as char).to_digit(16) {
            Some(d) if d < base => d as u64,
            _ => break,
        };
        match v.checked_mul(base as u64).and_then(|x| x.checked_add(d)) {
            Some(x) => v = x,
            None => overflow = true,
        }
        j += 1;
    }
    if overflow {
        return Err(ERANGE);
    }
    if j == start {
        return Err(EINVAL);
    }
    Ok((i + j, v, neg))
}

fn strto(cx: &mut HelperCtx<'_>, buf: u64, len: u64, flags: u64, res: u64, signed: bool) -> u64 {
    write(cx, res, &[0; 8]);
    if cx.env().status != crate::abi::STATUS_RUNNING {
        return 0;
    }
    let Some(b) = read(cx, buf, len as u32 as usize) else { return 0 };
    let (n, v, negative) = match parse_u64(&b, flags) {
        Ok(r) => r,
        Err(e) => return neg(e),
    };
    let out = if signed {
        if negative {
            if (v.wrapping_neg() as i64) > 0 {
                return neg(ERANGE);
            }
            v.wrapping_neg()
        } else {
            if (v as i64) < 0 {
                return neg(ERANGE);
            }
            v
        }
    } else if negative {
        return neg(EINVAL);
    } else {
        v
    };
    write(cx, res, &out.to_le_bytes()).map_or(0, |_| n as u64)
}

fn strtol_body(cx: &mut HelperCtx<'_>, buf: u64, len: u64, flags: u64, res: u64, _: u64) -> u64 {
    strto(cx, buf, len, flags, res, true)
}

fn strtoul_body(cx: &mut HelperCtx<'_>, buf: u64, len: u64, flags: u64, res: u64, _: u64) -> u64 {
    strto(cx, buf, len, flags, res, false)
}

declare_helper!(pub(crate) strncmp => strncmp_body);
declare_helper!(pub(crate) strtol => strtol_body);
declare_helper!(pub(crate) strtoul => strtoul_body);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_number_rules() {
        assert_eq!(parse_u64(b"  -42xyz", 0), Ok((5, 42, true)));
        assert_eq!(parse_u64(b"0x1fG", 0), Ok((4, 0x1f, false)));
        assert_eq!(parse_u64(b"0x1f", 16), Ok((4, 0x1f, false)));
        assert_eq!(parse_u64(b"0777", 0), Ok((4, 0o777, false)));
        assert_eq!(parse_u64(b"0x", 0), Ok((1, 0, false)), "0x without a hex digit is octal 0");
        assert_eq!(parse_u64(b"09", 0), Ok((1, 0, false)));
        assert_eq!(parse_u64(b"xyz", 10), Err(EINVAL));
        assert_eq!(parse_u64(b"  ", 10), Err(EINVAL));
        assert_eq!(parse_u64(b"1", 7), Err(EINVAL));
        assert_eq!(parse_u64(b"1", 0x20 | 10), Err(EINVAL));
        assert_eq!(parse_u64(b"18446744073709551616", 10), Err(ERANGE));
        assert_eq!(parse_u64(b"18446744073709551615", 10), Ok((20, u64::MAX, false)));
    }
}
