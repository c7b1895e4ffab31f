//! Live uprobes and uretprobes through the uprobe PMU (`/sys/bus/event_source/devices/uprobe`): `type`
//! from its `type` file, the return-probe bit from `format/retprobe` (`config:N`), `config1` = a pointer
//! to the binary's path, `config2` = the probed instruction's *file offset*, which is computed here from
//! the ELF symbol table (`.symtab`, else `.dynsym`): the symbol's virtual address is translated through
//! the `PT_LOAD` program header that contains it (`vaddr - p_vaddr + p_offset`).
//!
//! Samples carry `PERF_SAMPLE_REGS_USER` with every general register of x86_64, which becomes a
//! `struct pt_regs` in the kernel layout ([`regs_to_pt_regs`]); `orig_ax` is -1 as the int3 trap entry
//! leaves it. Other hosts are refused with a clear error (their perf register numbering differs).
//!
//! kprobes: this kernel has no kprobe PMU and no `kprobe_events`; [`kprobe_unavailable`] explains that
//! and points to replay.

use std::path::{Path, PathBuf};

use crate::ctx::{Arch, pt_regs};

/// A uprobe target: `PATH:SYMBOL[+OFFSET]`, entry or return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UprobeSpec {
    /// The binary (executable or shared library).
    pub path: PathBuf,
    /// The function symbol.
    pub symbol: String,
    /// Bytes past the symbol's start.
    pub offset: u64,
    /// A uretprobe.
    pub ret: bool,
}

/// A uprobe that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum UprobeError {
    /// `PATH:SYMBOL` spelling.
    #[error("bad uprobe target `{spec}`: expected PATH:SYMBOL[+OFFSET]")]
    BadSpec {
        /// What was given.
        spec: String,
    },
    /// The binary cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The binary.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not an ELF64 little-endian file, or truncated.
    #[error("{path}: not a usable ELF64 file: {what}")]
    BadElf {
        /// The binary.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// The symbol is missing.
    #[error("{path}: no function symbol `{symbol}` in .symtab or .dynsym")]
    NoSymbol {
        /// The binary.
        path: PathBuf,
        /// The symbol.
        symbol: String,
    },
    /// The symbol's address is in no loadable segment.
    #[error("{path}: symbol `{symbol}` at {vaddr:#x} lies in no PT_LOAD segment")]
    NotLoaded {
        /// The binary.
        path: PathBuf,
        /// The symbol.
        symbol: String,
        /// Its address.
        vaddr: u64,
    },
    /// No uprobe PMU.
    #[error("the uprobe PMU is not available ({what}): live uprobes need CONFIG_UPROBE_EVENTS")]
    NoPmu {
        /// What was missing.
        what: String,
    },
    /// Register sampling is only mapped for x86_64.
    #[error("live uprobes are supported on x86_64 hosts only (perf register numbering of {arch:?} is not mapped)")]
    UnsupportedArch {
        /// The host.
        arch: Arch,
    },
}

impl UprobeSpec {
    /// Parses `PATH:SYMBOL[+OFFSET]` (the part after `uprobe/` in a section name).
    pub fn parse(spec: &str, ret: bool) -> Result<UprobeSpec, UprobeError> {
        let bad = || UprobeError::BadSpec { spec: spec.into() };
        let (path, sym) = spec.rsplit_once(':').ok_or_else(bad)?;
        let (symbol, offset) = match sym.split_once('+') {
            Some((s, o)) => {
                let o = o.trim();
                let v = match o.strip_prefix("0x") {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => o.parse(),
                };
                (s, v.map_err(|_| bad())?)
            }
            None => (sym, 0),
        };
        if path.is_empty() || symbol.is_empty() {
            return Err(bad());
        }
        Ok(UprobeSpec { path: path.into(), symbol: symbol.into(), offset, ret })
    }

    /// The file offset of the probed instruction.
    pub fn file_offset(&self) -> Result<u64, UprobeError> {
        Ok(symbol_file_offset(&self.path, &self.symbol)? + self.offset)
    }
}

fn rd<const N: usize>(b: &[u8], off: u64) -> Option<[u8; N]> {
    let off = usize::try_from(off).ok()?;
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}
fn u16_at(b: &[u8], off: u64) -> Option<u64> {
    rd::<2>(b, off).map(|x| u64::from(u16::from_le_bytes(x)))
}
fn u32_at(b: &[u8], off: u64) -> Option<u64> {
    rd::<4>(b, off).map(|x| u64::from(u32::from_le_bytes(x)))
}
fn u64_at(b: &[u8], off: u64) -> Option<u64> {
    rd::<8>(b, off).map(u64::from_le_bytes)
}

/// The file offset of function `symbol` in the ELF64 little-endian file at `path`.
pub fn symbol_file_offset(path: &Path, symbol: &str) -> Result<u64, UprobeError> {
    let data = std::fs::read(path).map_err(|source| UprobeError::Io { path: path.into(), source })?;
    let bad = |what: &str| UprobeError::BadElf { path: path.into(), what: what.into() };
    if data.get(..4) != Some(b"\x7fELF") {
        return Err(bad("no ELF magic"));
    }
    if data[4] != 2 || data[5] != 1 {
        return Err(bad("not ELF64 little-endian"));
    }
    let trunc = || bad("truncated headers");
    let phoff = u64_at(&data, 0x20).ok_or_else(trunc)?;
    let shoff = u64_at(&data, 0x28).ok_or_else(trunc)?;
    let phentsize = u16_at(&data, 0x36).ok_or_else(trunc)?;
    let phnum = u16_at(&data, 0x38).ok_or_else(trunc)?;
    let shentsize = u16_at(&data, 0x3a).ok_or_else(trunc)?;
    let shnum = u16_at(&data, 0x3c).ok_or_else(trunc)?;
    let mut vaddr = None;
    // .symtab first (has static functions), then .dynsym.
    for want in [2u64, 11] {
        for i in 0..shnum {
            let sh = shoff + i * shentsize;
            if u32_at(&data, sh + 4).ok_or_else(trunc)? != want {
                continue;
            }
            let (off, size) = (u64_at(&data, sh + 24).ok_or_else(trunc)?, u64_at(&data, sh + 32).ok_or_else(trunc)?);
            let link = u32_at(&data, sh + 40).ok_or_else(trunc)?;
            let entsize = u64_at(&data, sh + 56).ok_or_else(trunc)?.max(24);
            let strtab = shoff + link * shentsize;
            let stroff = u64_at(&data, strtab + 24).ok_or_else(trunc)?;
            for k in 0..size / entsize {
                let s = off + k * entsize;
                let info = rd::<1>(&data, s + 4).ok_or_else(trunc)?[0];
                if !matches!(info & 0xf, 2 | 10) {
                    continue;
                }
                let name_off = stroff + u32_at(&data, s).ok_or_else(trunc)?;
                let Some(name) = usize::try_from(name_off).ok().and_then(|o| data.get(o..)) else { continue };
                let end = name.iter().position(|&c| c == 0).unwrap_or(name.len());
                if &name[..end] == symbol.as_bytes() {
                    let v = u64_at(&data, s + 8).ok_or_else(trunc)?;
                    if v != 0 {
                        vaddr = Some(v);
                        break;
                    }
                }
            }
            if vaddr.is_some() {
                break;
            }
        }
        if vaddr.is_some() {
            break;
        }
    }
    let vaddr = vaddr.ok_or_else(|| UprobeError::NoSymbol { path: path.into(), symbol: symbol.into() })?;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(&data, ph).ok_or_else(trunc)? != 1 {
            continue;
        }
        let p_offset = u64_at(&data, ph + 8).ok_or_else(trunc)?;
        let p_vaddr = u64_at(&data, ph + 16).ok_or_else(trunc)?;
        let p_filesz = u64_at(&data, ph + 32).ok_or_else(trunc)?;
        if vaddr >= p_vaddr && vaddr - p_vaddr < p_filesz {
            return Ok(vaddr - p_vaddr + p_offset);
        }
    }
    Err(UprobeError::NotLoaded { path: path.into(), symbol: symbol.into(), vaddr })
}

/// The uprobe PMU's perf `type` and the `config` bit that makes a uretprobe.
pub fn uprobe_pmu() -> Result<(u32, u32), UprobeError> {
    let dir = Path::new("/sys/bus/event_source/devices/uprobe");
    let ty = std::fs::read_to_string(dir.join("type"))
        .map_err(|e| UprobeError::NoPmu { what: format!("{}/type: {e}", dir.display()) })?;
    let ty: u32 = ty.trim().parse().map_err(|_| UprobeError::NoPmu { what: format!("bad type `{}`", ty.trim()) })?;
    let ret = std::fs::read_to_string(dir.join("format/retprobe"))
        .map_err(|e| UprobeError::NoPmu { what: format!("{}/format/retprobe: {e}", dir.display()) })?;
    let bit = ret
        .trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse::<u32>().ok())
        .filter(|&b| b < 64)
        .ok_or_else(|| UprobeError::NoPmu { what: format!("unexpected retprobe format `{}`", ret.trim()) })?;
    Ok((ty, bit))
}

/// `enum perf_event_x86_regs` indices of the registers we sample, in bit order, with their `pt_regs`
/// names. DS, ES, FS, GS (12..=15) are refused by the kernel for 64-bit tasks.
const X86_PERF_REGS: [(u32, &str); 20] = [
    (0, "ax"),
    (1, "bx"),
    (2, "cx"),
    (3, "dx"),
    (4, "si"),
    (5, "di"),
    (6, "bp"),
    (7, "sp"),
    (8, "ip"),
    (9, "flags"),
    (10, "cs"),
    (11, "ss"),
    (16, "r8"),
    (17, "r9"),
    (18, "r10"),
    (19, "r11"),
    (20, "r12"),
    (21, "r13"),
    (22, "r14"),
    (23, "r15"),
];

/// The `sample_regs_user` mask for the host, or why live uprobes are unsupported on it.
pub fn regs_mask() -> Result<u64, UprobeError> {
    match Arch::host() {
        Arch::X86_64 => Ok(X86_PERF_REGS.iter().fold(0, |m, (bit, _)| m | 1 << bit)),
        arch => Err(UprobeError::UnsupportedArch { arch }),
    }
}

/// Index of the stack pointer among a REGS_USER sample's values.
pub fn sp_index() -> usize {
    X86_PERF_REGS.iter().position(|(_, name)| *name == "sp").expect("sp is sampled")
}

/// Number of `u64` register values a REGS_USER sample carries.
pub fn regs_count() -> usize {
    X86_PERF_REGS.len()
}

/// A `struct pt_regs` (x86_64 kernel layout) from sampled register values in mask bit order.
pub fn regs_to_pt_regs(values: &[u64]) -> Vec<u8> {
    let mut out = vec![0u8; pt_regs::kernel_size(Arch::X86_64) as usize];
    let mut put = |name: &str, v: u64| {
        if let Some(off) = pt_regs::offset_of(Arch::X86_64, name) {
            out[off as usize..off as usize + 8].copy_from_slice(&v.to_ne_bytes());
        }
    };
    for ((_, name), v) in X86_PERF_REGS.iter().zip(values) {
        put(name, *v);
    }
    put("orig_ax", u64::MAX);
    out
}

/// Why a kprobe cannot be attached live here.
pub fn kprobe_unavailable(func: &str, ret: bool) -> String {
    let kind = if ret { "kretprobe" } else { "kprobe" };
    let pmu = Path::new("/sys/bus/event_source/devices/kprobe").exists();
    let why = if pmu {
        "bpfc does not attach kprobes live".to_string()
    } else {
        "this kernel has no kprobes (no /sys/bus/event_source/devices/kprobe PMU, no kprobe_events)".to_string()
    };
    format!(
        "cannot attach {kind}/{func} live: {why}; run the program on replayed pt_regs instead \
         (`bpfc run PROG --events FILE.jsonl` with `\"{kind}\":\"{func}\",\"regs\":{{...}}` lines, see docs/events.md)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        let s = UprobeSpec::parse("/bin/true:main+0x10", true).unwrap();
        assert_eq!((s.path.to_str(), s.symbol.as_str(), s.offset, s.ret), (Some("/bin/true"), "main", 16, true));
        assert!(UprobeSpec::parse("compute", false).is_err());
        assert!(UprobeSpec::parse(":x", false).is_err());
        assert!(UprobeSpec::parse("a:b+zz", false).is_err());
    }

    #[test]
    fn pt_regs_from_samples() {
        let vals: Vec<u64> = (1..=20).collect();
        let r = regs_to_pt_regs(&vals);
        let at = |o: usize| u64::from_ne_bytes(r[o..o + 8].try_into().unwrap());
        assert_eq!(at(80), 1); // ax
        assert_eq!(at(112), 6); // di
        assert_eq!(at(104), 5); // si
        assert_eq!(at(128), 9); // ip
        assert_eq!(at(0), 20); // r15
        assert_eq!(at(120), u64::MAX); // orig_ax
        assert_eq!(regs_mask().unwrap().count_ones(), 20);
    }
}
