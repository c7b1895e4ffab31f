//! Output helpers: `bpf_trace_printk`/`bpf_trace_vprintk` (to the host's trace stream), `bpf_snprintf`,
//! `bpf_perf_event_output` and the ring buffer helpers.

use super::probe::{Space, TASK_SIZE, read_mem, read_str};
use super::{host, map_arg, neg, read, write};
use crate::abi::TrapCode;
use crate::declare_helper;
use crate::exec::HelperCtx;
use crate::helpers::host::HostState;
use crate::helpers::printf::{FormatMem, StrSource, bprintf};
use crate::maps::errno::{EINVAL, ENOENT};

/// The kernel's `MAX_BPRINTF_BUF`: trace_printk output is cut to this minus the NUL.
pub const MAX_BPRINTF_BUF: usize = 1024;
/// The kernel's `MAX_BPRINTF_VARARGS`.
pub const MAX_BPRINTF_VARARGS: u64 = 12;
/// `BPF_F_INDEX_MASK` / `BPF_F_CURRENT_CPU`.
const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
/// Longest constant format string read for `bpf_snprintf`.
const MAX_CONST_STR: usize = 4096;

struct Mem<'a, 'b, 'e> {
    cx: &'a HelperCtx<'e>,
    host: &'b HostState,
}

impl FormatMem for Mem<'_, '_, '_> {
    fn string(&mut self, addr: u64, src: StrSource, max: usize) -> Option<Vec<u8>> {
        let space = match src {
            StrSource::Kernel => Space::Kernel,
            StrSource::User => Space::User,
            StrSource::Any if addr < TASK_SIZE => Space::User,
            StrSource::Any => Space::Kernel,
        };
        read_str(self.cx, self.host, addr, max, space).map(|(s, _)| s)
    }

    fn bytes(&mut self, addr: u64, len: usize) -> Option<Vec<u8>> {
        read_mem(self.cx, self.host, addr, len, Space::Kernel)
    }
}

/// Reads a format string of `size` bytes that must contain a NUL; returns the part before it.
fn read_fmt(cx: &mut HelperCtx<'_>, addr: u64, size: u64) -> Option<Result<Vec<u8>, i32>> {
    let f = read(cx, addr, size as u32 as usize)?;
    Some(match f.iter().position(|&c| c == 0) {
        Some(n) => Ok(f[..n].to_vec()),
        None => Err(EINVAL),
    })
}

fn printk(cx: &mut HelperCtx<'_>, id: u32, fmt: u64, fmt_size: u64, args: &[u64]) -> u64 {
    let Some(h) = host(cx, id) else { return 0 };
    let f = match read_fmt(cx, fmt, fmt_size) {
        None => return 0,
        Some(Err(e)) => return neg(e),
        Some(Ok(f)) => f,
    };
    match bprintf(&f, args, &mut Mem { cx, host: h }) {
        Ok(mut out) => {
            let len = out.len() as u64;
            out.truncate(MAX_BPRINTF_BUF - 1);
            h.push_trace(*cx.event(), String::from_utf8_lossy(&out).into_owned());
            len
        }
        Err(e) => neg(e),
    }
}

fn trace_printk_body(cx: &mut HelperCtx<'_>, fmt: u64, size: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    printk(cx, 6, fmt, size, &[a1, a2, a3])
}

/// Reads `data_len` bytes of u64 arguments (`bpf_trace_vprintk`, `bpf_snprintf`).
fn var_args(cx: &mut HelperCtx<'_>, data: u64, data_len: u64) -> Option<Result<Vec<u64>, i32>> {
    let data_len = data_len as u32 as u64;
    if !data_len.is_multiple_of(8) || data_len > MAX_BPRINTF_VARARGS * 8 || (data_len != 0 && data == 0) {
        return Some(Err(EINVAL));
    }
    let raw = read(cx, data, data_len as usize)?;
    Some(Ok(raw.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()))
}

fn trace_vprintk_body(cx: &mut HelperCtx<'_>, fmt: u64, size: u64, data: u64, data_len: u64, _: u64) -> u64 {
    match var_args(cx, data, data_len) {
        None => 0,
        Some(Err(e)) => neg(e),
        Some(Ok(args)) => printk(cx, 177, fmt, size, &args),
    }
}

/// `bpf_snprintf(str, str_size, fmt, data, data_len)`: returns the formatted length plus one (the NUL),
/// writing at most `str_size - 1` bytes and a NUL.
fn snprintf_body(cx: &mut HelperCtx<'_>, out: u64, out_size: u64, fmt: u64, data: u64, data_len: u64) -> u64 {
    let Some(h) = host(cx, 165) else { return 0 };
    let args = match var_args(cx, data, data_len) {
        None => return 0,
        Some(Err(e)) => return neg(e),
        Some(Ok(a)) => a,
    };
    let f = match read_str(cx, h, fmt, MAX_CONST_STR, Space::Kernel) {
        Some((f, true)) => f,
        _ => {
            cx.trap(TrapCode::HelperFault, fmt);
            return 0;
        }
    };
    match bprintf(&f, &args, &mut Mem { cx, host: h }) {
        Ok(mut s) => {
            let len = s.len() as u64;
            let size = out_size as u32 as usize;
            if size > 0 {
                s.truncate(size - 1);
                s.push(0);
                if write(cx, out, &s).is_none() {
                    return 0;
                }
            }
            len + 1
        }
        Err(e) => neg(e),
    }
}

/// `bpf_perf_event_output(ctx, map, flags, data, size)`: the low 32 bits of flags pick the array index,
/// `BPF_F_CURRENT_CPU` the event's CPU; other flag bits are -EINVAL.
fn perf_output_body(cx: &mut HelperCtx<'_>, _ctx: u64, map: u64, flags: u64, data: u64, size: u64) -> u64 {
    let Some(h) = host(cx, 25) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    if flags & !BPF_F_INDEX_MASK != 0 {
        return neg(EINVAL);
    }
    let index = match flags & BPF_F_INDEX_MASK {
        BPF_F_INDEX_MASK => cx.event().cpu,
        i => i as u32,
    };
    let Some(bytes) = read(cx, data, size as u32 as usize) else { return 0 };
    match m.perf_events() {
        Some(p) => p.output(index, &bytes).map_or_else(|e| e.helper_ret(), |_| 0),
        None => neg(EINVAL),
    }
}

fn ringbuf_output_body(cx: &mut HelperCtx<'_>, map: u64, data: u64, size: u64, flags: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 130) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    let Some(bytes) = read(cx, data, size as u32 as usize) else { return 0 };
    match m.ringbuf() {
        Some(rb) => rb.output(&bytes, flags).map_or_else(|e| e.helper_ret(), |_| 0),
        None => neg(EINVAL),
    }
}

fn ringbuf_reserve_body(cx: &mut HelperCtx<'_>, map: u64, size: u64, flags: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 131) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    m.ringbuf().and_then(|rb| rb.reserve(size, flags)).unwrap_or(0)
}

fn commit(cx: &mut HelperCtx<'_>, id: u32, sample: u64, discard: bool) -> u64 {
    let Some(h) = host(cx, id) else { return 0 };
    let ok = h.maps().map_containing(sample).and_then(|m| m.ringbuf().map(|rb| rb.commit(sample, discard).is_ok()));
    if ok != Some(true) {
        cx.trap(TrapCode::HelperFault, sample);
    }
    0
}

fn ringbuf_submit_body(cx: &mut HelperCtx<'_>, sample: u64, _flags: u64, _: u64, _: u64, _: u64) -> u64 {
    commit(cx, 132, sample, false)
}

fn ringbuf_discard_body(cx: &mut HelperCtx<'_>, sample: u64, _flags: u64, _: u64, _: u64, _: u64) -> u64 {
    commit(cx, 133, sample, true)
}

fn ringbuf_query_body(cx: &mut HelperCtx<'_>, map: u64, flags: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 134) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    m.ringbuf().map_or(neg(ENOENT), |rb| rb.query(flags))
}

declare_helper!(pub(crate) trace_printk => trace_printk_body);
declare_helper!(pub(crate) trace_vprintk => trace_vprintk_body);
declare_helper!(pub(crate) snprintf => snprintf_body);
declare_helper!(pub(crate) perf_event_output => perf_output_body);
declare_helper!(pub(crate) ringbuf_output => ringbuf_output_body);
declare_helper!(pub(crate) ringbuf_reserve => ringbuf_reserve_body);
declare_helper!(pub(crate) ringbuf_submit => ringbuf_submit_body);
declare_helper!(pub(crate) ringbuf_discard => ringbuf_discard_body);
declare_helper!(pub(crate) ringbuf_query => ringbuf_query_body);
