//! The kernel's printf dialect for `bpf_trace_printk`, `bpf_trace_vprintk` and `bpf_snprintf`
//! (`bpf_bprintf_prepare` in kernel/bpf/helpers.c, then the kernel's `vsnprintf`).
//!
//! Accepted: printable ASCII and whitespace only; `%%`; conversions `%d %i %u %x %X` with optional `l` or
//! `ll` (no `l`: the argument is truncated to 32 bits), `%c`, `%s`, `%pks`/`%pus` (kernel/user string),
//! `%p` `%pK` `%px` `%ps` `%pS` `%pB` (pointers), `%pI4 %pi4 %pI6 %pi6` (IP addresses read from memory);
//! each may carry flags `0 + - space` and a width (no precision). A `%s` must be followed by NUL,
//! whitespace or punctuation. More conversions than arguments, or anything else, is -EINVAL.
//!
//! Differences from the kernel, by necessity: `%p` and `%pK` print the raw value like `%px` (the kernel
//! prints a per-boot hashed value or zeros); `%ps`/`%pS`/`%pB` print the address in hex (there is no
//! symbol table to resolve it).

use crate::maps::errno::EINVAL;

/// Where a `%s`-like conversion reads its string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrSource {
    /// `%s`: user memory below the user/kernel split, kernel memory above.
    Any,
    /// `%pks`.
    Kernel,
    /// `%pus`.
    User,
}

/// The most bytes of string arguments one call may format (the kernel's `MAX_BPRINTF_BIN_ARGS`).
pub const MAX_BPRINTF_BIN_ARGS: usize = 512;

/// Memory access for the formatter.
pub trait FormatMem {
    /// The NUL-terminated string at `addr` without its NUL, at most `max` bytes; `None` on a fault.
    fn string(&mut self, addr: u64, src: StrSource, max: usize) -> Option<Vec<u8>>;
    /// `len` bytes at `addr`; `None` on a fault.
    fn bytes(&mut self, addr: u64, len: usize) -> Option<Vec<u8>>;
}

struct Spec {
    zero: bool,
    plus: bool,
    left: bool,
    space: bool,
    width: usize,
}

fn pad(out: &mut Vec<u8>, s: &Body, sp: &Spec) {
    let len = s.sign.len() + s.digits.len();
    let fill = sp.width.saturating_sub(len);
    if sp.left {
        out.extend_from_slice(&s.sign);
        out.extend_from_slice(&s.digits);
        out.extend(std::iter::repeat_n(b' ', fill));
    } else if sp.zero && s.numeric {
        out.extend_from_slice(&s.sign);
        out.extend(std::iter::repeat_n(b'0', fill));
        out.extend_from_slice(&s.digits);
    } else {
        out.extend(std::iter::repeat_n(b' ', fill));
        out.extend_from_slice(&s.sign);
        out.extend_from_slice(&s.digits);
    }
}

/// One formatted conversion before padding.
struct Body {
    sign: Vec<u8>,
    digits: Vec<u8>,
    numeric: bool,
}

fn text(b: Vec<u8>) -> Body {
    Body { sign: vec![], digits: b, numeric: false }
}

fn is_punct(c: u8) -> bool {
    c.is_ascii_punctuation()
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Formats `fmt` (without its NUL) with `args`. Errors are positive errnos.
pub fn bprintf(fmt: &[u8], args: &[u64], mem: &mut dyn FormatMem) -> Result<Vec<u8>, i32> {
    let at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut out = Vec::new();
    let mut n = 0usize;
    let mut str_budget = MAX_BPRINTF_BIN_ARGS;
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        if !c.is_ascii() || !(c.is_ascii_graphic() || c == b' ' || is_space(c)) {
            return Err(EINVAL);
        }
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        if at(i + 1) == b'%' {
            out.push(b'%');
            i += 2;
            continue;
        }
        if n >= args.len() {
            return Err(EINVAL);
        }
        let arg = args[n];
        n += 1;
        i += 1;
        let mut sp = Spec { zero: false, plus: false, left: false, space: false, width: 0 };
        loop {
            match at(i) {
                b'0' => sp.zero = true,
                b'+' => sp.plus = true,
                b'-' => sp.left = true,
                b' ' => sp.space = true,
                _ => break,
            }
            i += 1;
        }
        if (b'1'..=b'9').contains(&at(i)) {
            while at(i).is_ascii_digit() {
                sp.width = sp.width.saturating_mul(10).saturating_add((at(i) - b'0') as usize).min(1 << 12);
                i += 1;
            }
        }
        let body = match at(i) {
            b'p' => {
                let next = at(i + 1);
                if (next == b'k' || next == b'u') && at(i + 2) == b's' {
                    let src = if next == b'k' { StrSource::Kernel } else { StrSource::User };
                    i += 2;
                    string_arg(fmt, &mut i, arg, src, mem, &mut str_budget)?
                } else if next == 0 || is_space(next) || is_punct(next) {
                    i += 1;
                    text(format!("{arg:016x}").into_bytes())
                } else if matches!(next, b'K' | b'x' | b's' | b'S' | b'B') {
                    i += 2;
                    text(format!("{arg:016x}").into_bytes())
                } else if matches!(next, b'i' | b'I') && matches!(at(i + 2), b'4' | b'6') {
                    let v6 = at(i + 2) == b'6';
                    let raw =
                        mem.bytes(arg, if v6 { 16 } else { 4 }).unwrap_or_else(|| vec![0; if v6 { 16 } else { 4 }]);
                    i += 3;
                    text(format_ip(&raw, next == b'I'))
                } else {
                    return Err(EINVAL);
                }
            }
            b's' => string_arg(fmt, &mut i, arg, StrSource::Any, mem, &mut str_budget)?,
            b'c' => {
                i += 1;
                text(vec![arg as u8])
            }
            _ => {
                let mut long = 0;
                while at(i) == b'l' && long < 2 {
                    long += 1;
                    i += 1;
                }
                let conv = at(i);
                i += 1;
                let v = if long == 0 { arg as u32 as u64 } else { arg };
                match conv {
                    b'd' | b'i' => {
                        let s = if long == 0 { v as u32 as i32 as i64 } else { v as i64 };
                        let sign = if s < 0 {
                            b"-".to_vec()
                        } else if sp.plus {
                            b"+".to_vec()
                        } else if sp.space {
                            b" ".to_vec()
                        } else {
                            vec![]
                        };
                        Body { sign, digits: s.unsigned_abs().to_string().into_bytes(), numeric: true }
                    }
                    b'u' => Body { sign: vec![], digits: v.to_string().into_bytes(), numeric: true },
                    b'x' => Body { sign: vec![], digits: format!("{v:x}").into_bytes(), numeric: true },
                    b'X' => Body { sign: vec![], digits: format!("{v:X}").into_bytes(), numeric: true },
                    _ => return Err(EINVAL),
                }
            }
        };
        pad(&mut out, &body, &sp);
    }
    Ok(out)
}

fn string_arg(
    fmt: &[u8],
    i: &mut usize,
    arg: u64,
    src: StrSource,
    mem: &mut dyn FormatMem,
    budget: &mut usize,
) -> Result<Body, i32> {
    let next = fmt.get(*i + 1).copied().unwrap_or(0);
    if next != 0 && !is_space(next) && !is_punct(next) {
        return Err(EINVAL);
    }
    *i += 1;
    // The kernel copies each string into what is left of a 512-byte buffer, NUL included.
    let max = budget.saturating_sub(1);
    let s = if *budget == 0 { Vec::new() } else { mem.string(arg, src, max).unwrap_or_default() };
    *budget = budget.saturating_sub(s.len() + 1);
    Ok(text(s))
}

fn format_ip(raw: &[u8], dotted_or_colons: bool) -> Vec<u8> {
    let s = if raw.len() == 4 {
        if dotted_or_colons {
            format!("{}.{}.{}.{}", raw[0], raw[1], raw[2], raw[3])
        } else {
            format!("{:03}.{:03}.{:03}.{:03}", raw[0], raw[1], raw[2], raw[3])
        }
    } else {
        let groups: Vec<String> = raw.chunks(2).map(|g| format!("{:02x}{:02x}", g[0], g[1])).collect();
        if dotted_or_colons { groups.join(":") } else { groups.concat() }
    };
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem;
    impl FormatMem for Mem {
        fn string(&mut self, addr: u64, _src: StrSource, max: usize) -> Option<Vec<u8>> {
            (addr == 0x1000).then(|| b"hello"[..5.min(max)].to_vec())
        }
        fn bytes(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
            (addr == 0x2000).then(|| (1..=len as u8).collect())
        }
    }

    fn f(fmt: &str, args: &[u64]) -> Result<String, i32> {
        bprintf(fmt.as_bytes(), args, &mut Mem).map(|b| String::from_utf8(b).unwrap())
    }

    #[test]
    fn integers_follow_c_rules() {
        assert_eq!(f("%d %i %u %x %X", &[u64::MAX, 5, u64::MAX, 255, 255]).unwrap(), "-1 5 4294967295 ff FF");
        assert_eq!(
            f("%ld %lld %llu %llx", &[u64::MAX, 1 << 40, u64::MAX, 1 << 36]).unwrap(),
            "-1 1099511627776 18446744073709551615 1000000000"
        );
        assert_eq!(
            f("[%5d|%-5d|%05d|%+d|% d]", &[42, 42, (-42i64) as u64, 7, 7]).unwrap(),
            "[   42|42   |-0042|+7| 7]"
        );
        assert_eq!(f("%c%c 100%%\n", &[b'o' as u64, b'k' as u64]).unwrap(), "ok 100%\n");
    }

    #[test]
    fn strings_pointers_and_ips() {
        assert_eq!(f("<%s> <%s>", &[0x1000, 0xdead]).unwrap(), "<hello> <>");
        assert_eq!(f("%8s|%-8s|", &[0x1000, 0x1000]).unwrap(), "   hello|hello   |");
        assert_eq!(f("%pks %pus.", &[0x1000, 0x1000]).unwrap(), "hello hello.");
        assert_eq!(f("%p %px", &[0xabc, 0xabc]).unwrap(), "0000000000000abc 0000000000000abc");
        assert_eq!(f("%pI4 %pi4", &[0x2000, 0x2000]).unwrap(), "1.2.3.4 001.002.003.004");
        assert_eq!(f("%pI6", &[0x2000]).unwrap(), "0102:0304:0506:0708:090a:0b0c:0d0e:0f10");
        assert_eq!(f("%pI4", &[0x9999]).unwrap(), "0.0.0.0");
    }

    #[test]
    fn kernel_rejections() {
        assert_eq!(f("%d %d", &[1]), Err(EINVAL), "more conversions than arguments");
        assert_eq!(f("%sx", &[0x1000]), Err(EINVAL), "%s followed by an alphanumeric");
        assert_eq!(f("%f", &[1]), Err(EINVAL));
        assert_eq!(f("%.2d", &[1]), Err(EINVAL), "no precision");
        assert_eq!(f("%pZ", &[1]), Err(EINVAL));
        assert_eq!(f("caf\u{e9}", &[]), Err(EINVAL), "non-ASCII");
        assert_eq!(f("\x07", &[]), Err(EINVAL), "control character");
        assert_eq!(f("%lllld", &[1]), Err(EINVAL));
    }
}
