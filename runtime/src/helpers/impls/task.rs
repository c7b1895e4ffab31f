//! Time, randomness, CPU and "current task" helpers. The current task is the event's: pid/tid, uid/gid,
//! comm and CPU come from `env.event`; the clocks read the event's timestamp (ns since boot), so a replay
//! gives the same durations every run, and fall back to this machine's `CLOCK_MONOTONIC` when the event
//! has no timestamp.

use super::{host, neg, writable, write};
use crate::declare_helper;
use crate::exec::HelperCtx;
use crate::helpers::host::monotonic_ns;
use crate::maps::errno::{EFAULT, EINVAL};

fn now(cx: &HelperCtx<'_>) -> u64 {
    match cx.event().time_ns {
        0 => monotonic_ns(),
        t => t,
    }
}

fn ktime_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    now(cx)
}

/// The coarse clock advances once per tick.
fn ktime_coarse_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 160) else { return 0 };
    let tick = 1_000_000_000 / h.hz();
    now(cx) / tick * tick
}

/// `jiffies_64` starts at the kernel's `INITIAL_JIFFIES` (`(u32)(-300 * HZ)`, so that 32-bit jiffies wrap
/// five minutes after boot) and advances `HZ` times a second.
fn jiffies_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 118) else { return 0 };
    let initial = (-300i64 * h.hz() as i64) as u32 as u64;
    initial.wrapping_add(now(cx) / (1_000_000_000 / h.hz()))
}

fn prandom_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    host(cx, 7).map_or(0, |h| h.prandom_u32() as u64)
}

fn cpu_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    cx.event().cpu as u64
}

fn numa_body(_cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    0
}

fn pid_tgid_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let e = cx.event();
    (e.pid as u64) << 32 | e.tid as u64
}

fn uid_gid_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let e = cx.event();
    (e.gid as u64) << 32 | e.uid as u64
}

/// `strscpy_pad(buf, comm, size)`: at most `size - 1` bytes of comm, NUL, zero padding.
fn comm_body(cx: &mut HelperCtx<'_>, buf: u64, size: u64, _: u64, _: u64, _: u64) -> u64 {
    let size = size as u32 as usize;
    if size == 0 {
        return 0;
    }
    if !writable(cx, buf, size) {
        return 0;
    }
    let comm = cx.event().comm;
    let len = comm.iter().position(|&c| c == 0).unwrap_or(comm.len()).min(size - 1);
    let mut out = vec![0u8; size];
    out[..len].copy_from_slice(&comm[..len]);
    write(cx, buf, &out).map_or(0, |_| 0)
}

/// Base of the synthetic `task_struct` addresses: kernel direct-map addresses, one 16 KiB slot per tid,
/// so replay files can provide the task's memory as a blob at a predictable address.
pub const TASK_BASE: u64 = 0xffff_8880_0000_0000;

fn task_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    TASK_BASE | (cx.event().tid as u64) << 14
}

fn func_ip_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    host(cx, 173).map_or(0, |h| h.func_ip())
}

fn cookie_body(cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    host(cx, 174).map_or(0, |h| h.attach_cookie())
}

const BPF_F_SKIP_FIELD_MASK: u64 = 0xff;
const BPF_F_USER_STACK: u64 = 1 << 8;
const BPF_F_USER_BUILD_ID: u64 = 1 << 11;

/// `bpf_get_stack(ctx, buf, size, flags)`: the event's stack ([`crate::helpers::HostState::set_stacks`]),
/// `flags & 0xff` frames skipped; returns the bytes written and zeroes the rest of `buf`. -EINVAL for bad
/// flags or a size that is not a multiple of 8 (build ids are not available: -EINVAL), -EFAULT when
/// there is no stack.
fn get_stack_body(cx: &mut HelperCtx<'_>, _ctx: u64, buf: u64, size: u64, flags: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 67) else { return 0 };
    let size = size as u32 as usize;
    if !writable(cx, buf, size) {
        return 0;
    }
    let fail = |cx: &mut HelperCtx<'_>, e: i32| write(cx, buf, &vec![0; size]).map_or(0, |_| neg(e));
    if flags & !(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_USER_BUILD_ID) != 0
        || flags & BPF_F_USER_BUILD_ID != 0
        || !size.is_multiple_of(8)
    {
        return fail(cx, EINVAL);
    }
    let stacks = h.stacks();
    let stack = if flags & BPF_F_USER_STACK != 0 { stacks.user } else { stacks.kernel };
    let skip = (flags & BPF_F_SKIP_FIELD_MASK) as usize;
    if stack.len() <= skip {
        return fail(cx, EFAULT);
    }
    let n = (stack.len() - skip).min(size / 8);
    let mut out = vec![0u8; size];
    for (i, ip) in stack[skip..skip + n].iter().enumerate() {
        out[i * 8..i * 8 + 8].copy_from_slice(&ip.to_le_bytes());
    }
    write(cx, buf, &out).map_or(0, |_| (n * 8) as u64)
}

/// `bpf_get_stackid(ctx, map, flags)`: stores the event's stack in a `stack_trace` map and returns its id
/// (see [`crate::maps::StackTraceMap::get_stackid`]); -EINVAL for another map type.
fn get_stackid_body(cx: &mut HelperCtx<'_>, _ctx: u64, map: u64, flags: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, 27) else { return 0 };
    let Some(m) = super::map_arg(cx, h, map) else { return 0 };
    let Some(st) = m.stack_traces() else { return neg(EINVAL) };
    let stacks = h.stacks();
    let stack = if flags & BPF_F_USER_STACK != 0 { stacks.user } else { stacks.kernel };
    st.get_stackid(&stack, flags).map_or_else(neg, u64::from)
}

declare_helper!(pub(crate) ktime_get_ns => ktime_body);
declare_helper!(pub(crate) ktime_get_boot_ns => ktime_body);
declare_helper!(pub(crate) ktime_get_coarse_ns => ktime_coarse_body);
declare_helper!(pub(crate) jiffies64 => jiffies_body);
declare_helper!(pub(crate) get_prandom_u32 => prandom_body);
declare_helper!(pub(crate) get_smp_processor_id => cpu_body);
declare_helper!(pub(crate) get_numa_node_id => numa_body);
declare_helper!(pub(crate) get_current_pid_tgid => pid_tgid_body);
declare_helper!(pub(crate) get_current_uid_gid => uid_gid_body);
declare_helper!(pub(crate) get_current_comm => comm_body);
declare_helper!(pub(crate) get_current_task => task_body);
declare_helper!(pub(crate) get_func_ip => func_ip_body);
declare_helper!(pub(crate) get_attach_cookie => cookie_body);
declare_helper!(pub(crate) get_stack => get_stack_body);
declare_helper!(pub(crate) get_stackid => get_stackid_body);
