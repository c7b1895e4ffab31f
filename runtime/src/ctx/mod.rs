//! Program contexts: what `r1` points to at entry, per program type.
//!
//! - [`pt_regs`]: `struct pt_regs` of x86_64, aarch64 and riscv64 (kprobe, uprobe and their return
//!   probes; perf_event programs see them at the start of `bpf_perf_event_data`);
//! - [`tracepoint`]: a tracepoint record laid out from the tracefs `format` file (common fields, fields,
//!   `__data_loc` strings);
//! - raw tracepoints: an array of up to 12 `u64` arguments.
//!
//! [`CtxLayout`] is the verifier's view: which byte ranges a program of a type may read or write, with
//! the kernel's `*_is_valid_access` rules (read-only, aligned to the access size, inside the struct).
//! The runtime must hand programs a context at least [`CtxLayout::size`] bytes long.

pub mod pt_regs;
pub mod tracepoint;

use crate::abi::ProgType;
pub use pt_regs::Arch;
pub use tracepoint::{TpField, TracepointFormat, TracepointFormatError};

/// The kernel's `PERF_MAX_TRACE_SIZE`: without a known format, a tracepoint program may read any
/// aligned offset in `[8, 8192)`, which is what the kernel allows at load time.
pub const PERF_MAX_TRACE_SIZE: u32 = 8192;
/// The kernel's `MAX_BPF_FUNC_ARGS`: raw tracepoint programs see this many `u64` arguments.
pub const MAX_RAW_TP_ARGS: u32 = 12;
/// The largest context a `BPF_PROG_TYPE_SYSCALL` program can be test-run with (`U16_MAX`; the kernel
/// refuses a larger `ctx_size_in`).
pub const MAX_SYSCALL_CTX: usize = 65535;
/// The buffer a syscall program's context is verified against and run in: the kernel allows any aligned
/// access at an offset below `U16_MAX` (`syscall_prog_is_valid_access`), so the furthest one ends at
/// 65536. Runners zero-pad shorter contexts to this size (the kernel instead refuses a test run whose
/// `ctx_size_in` is below the furthest offset the program uses).
pub const SYSCALL_CTX_BUFFER: u32 = 65536;

/// Which context accesses a program type allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtxLayout {
    /// The program type this layout is for.
    pub prog_type: ProgType,
    /// Bytes of context the runtime provides.
    pub size: u32,
    /// First readable offset (tracepoint records hide the 8-byte common header's first word).
    pub read_start: u32,
    /// One past the last readable byte.
    pub read_end: u32,
    /// Writable byte range, if any.
    pub write: Option<(u32, u32)>,
    /// Whether `off % size == 0` is required, as every tracing `*_is_valid_access` does.
    pub aligned: bool,
    /// Accesses below this offset must be exactly 8 bytes (perf_event programs read `pt_regs` only as
    /// whole `long`s; the kernel's `pe_prog_is_valid_access`). 0 for no such rule.
    pub word_only_below: u32,
    /// Human-readable name of the context struct, for messages.
    pub struct_name: String,
}

/// Why a context access is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CtxDenied {
    /// The bytes lie outside what the program type may touch.
    #[error("bytes {off}..{end} are outside the {what} ({allowed})")]
    OutOfRange {
        /// First byte.
        off: i64,
        /// One past the last byte.
        end: i64,
        /// The struct.
        what: String,
        /// The allowed range, in words.
        allowed: String,
    },
    /// A write to a read-only context.
    #[error("the {what} is read-only")]
    ReadOnly {
        /// The struct.
        what: String,
    },
    /// A narrow read of a field the kernel only allows as a whole `long`.
    #[error("bytes {off}..{end} must be read as one 8-byte word")]
    NarrowWord {
        /// First byte.
        off: i64,
        /// One past the last byte.
        end: i64,
    },
    /// The offset is not a multiple of the access size.
    #[error("offset {off} is not a multiple of the access size {size}")]
    Misaligned {
        /// Offset.
        off: i64,
        /// Access size.
        size: u32,
    },
}

impl CtxLayout {
    /// The kernel's rules for `prog_type` with the native `pt_regs` of `arch`; tracepoints without a
    /// known format get the kernel's load-time range `[8, PERF_MAX_TRACE_SIZE)`. `None` for types whose
    /// context bpfc does not model.
    pub fn for_prog_type(prog_type: ProgType, arch: Arch) -> Option<CtxLayout> {
        let regs = pt_regs::kernel_size(arch);
        let (size, read_start, read_end, write, name) = match prog_type {
            ProgType::Kprobe => (regs, 0, regs, None, "struct pt_regs".to_string()),
            ProgType::PerfEvent => (regs + 16, 0, regs + 16, None, "struct bpf_perf_event_data".to_string()),
            ProgType::Tracepoint => {
                (PERF_MAX_TRACE_SIZE, 8, PERF_MAX_TRACE_SIZE, None, "tracepoint record".to_string())
            }
            ProgType::RawTracepoint => {
                let n = MAX_RAW_TP_ARGS * 8;
                (n, 0, n, None, "struct bpf_raw_tracepoint_args".to_string())
            }
            ProgType::Syscall => {
                let n = SYSCALL_CTX_BUFFER;
                (n, 0, n, Some((0, n)), "syscall program context".to_string())
            }
            _ => return None,
        };
        let word_only_below = if prog_type == ProgType::PerfEvent { regs } else { 0 };
        Some(CtxLayout {
            prog_type,
            size,
            read_start,
            read_end,
            write,
            aligned: true,
            word_only_below,
            struct_name: name,
        })
    }

    /// A tracepoint program bound to one event: reads limited to the record the format describes (past
    /// the first 8 bytes of common fields, as the kernel hides them).
    pub fn for_tracepoint(format: &TracepointFormat) -> CtxLayout {
        let size = format.record_size();
        CtxLayout {
            prog_type: ProgType::Tracepoint,
            size,
            read_start: 8.min(size),
            read_end: size,
            write: None,
            aligned: true,
            word_only_below: 0,
            struct_name: format!("record of tracepoint {}", format.name),
        }
    }

    /// A plain buffer of `size` bytes, readable and writable at any alignment (conformance programs,
    /// `BPF_PROG_TYPE_UNSPEC`; not loadable into the kernel).
    pub fn buffer(size: u32) -> CtxLayout {
        CtxLayout {
            prog_type: ProgType::Unspec,
            size,
            read_start: 0,
            read_end: size,
            write: Some((0, size)),
            aligned: false,
            word_only_below: 0,
            struct_name: format!("{size}-byte context buffer"),
        }
    }

    /// Checks one access of `size` bytes at constant offset `off`.
    pub fn check(&self, off: i64, size: u32, write: bool) -> Result<(), CtxDenied> {
        let end = off + i64::from(size);
        if write {
            let Some((ws, we)) = self.write else {
                return Err(CtxDenied::ReadOnly { what: self.struct_name.clone() });
            };
            if off < i64::from(ws) || end > i64::from(we) {
                return Err(CtxDenied::OutOfRange {
                    off,
                    end,
                    what: self.struct_name.clone(),
                    allowed: format!("writable bytes {ws}..{we}"),
                });
            }
        } else if off < i64::from(self.read_start) || end > i64::from(self.read_end) {
            return Err(CtxDenied::OutOfRange {
                off,
                end,
                what: self.struct_name.clone(),
                allowed: format!("readable bytes {}..{}", self.read_start, self.read_end),
            });
        }
        if off < i64::from(self.word_only_below) && size != 8 {
            return Err(CtxDenied::NarrowWord { off, end });
        }
        if self.aligned && off.rem_euclid(i64::from(size)) != 0 {
            return Err(CtxDenied::Misaligned { off, size });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kprobe_rules() {
        let l = CtxLayout::for_prog_type(ProgType::Kprobe, Arch::X86_64).unwrap();
        assert_eq!(l.size, 168);
        assert!(l.check(160, 8, false).is_ok());
        assert!(l.check(164, 8, false).is_err());
        assert!(l.check(168, 1, false).is_err());
        assert!(l.check(-8, 8, false).is_err());
        assert!(l.check(4, 8, false).is_err());
        assert!(l.check(0, 8, true).is_err());
        let t = CtxLayout::for_prog_type(ProgType::Tracepoint, Arch::X86_64).unwrap();
        assert!(t.check(0, 8, false).is_err());
        assert!(t.check(8, 8, false).is_ok());
        assert!(t.check(8184, 8, false).is_ok());
        assert!(t.check(8188, 8, false).is_err());
        let p = CtxLayout::for_prog_type(ProgType::PerfEvent, Arch::X86_64).unwrap();
        assert!(p.check(0, 4, false).is_err());
        assert!(p.check(0, 8, false).is_ok());
        assert!(p.check(168, 4, false).is_ok());
    }
}
