//! `bpf_probe_read*`: reads of the traced system's memory.
//!
//! Sources, in order: the replayed memory blobs of the current event ([`HostState::set_memory`]), then
//! memory the program may access itself (stack, context, maps — what would be kernel memory in the
//! kernel). User reads of kernel addresses (at or above the x86-64 user/kernel split) fail, as the
//! kernel's `copy_from_user_nofault` does. On any failure the destination is zeroed and the helper returns
//! the kernel's errno: -EFAULT, except for kernel reads below the canonical kernel half (user addresses,
//! the guard page, non-canonical addresses), which x86's `copy_from_kernel_nofault` refuses up front with
//! -ERANGE (measured in testsuite/tests/helpers_kernel.rs); string variants return the copied length including the NUL, or `size` with the last byte set
//! to NUL when the string was longer.

use super::{host, neg, writable, write};
use crate::declare_helper;
use crate::exec::HelperCtx;
use crate::helpers::host::HostState;
use crate::maps::errno::{EFAULT, ERANGE};

/// The x86-64 `TASK_SIZE_MAX`: user addresses are below it.
pub(crate) const TASK_SIZE: u64 = 0x0000_7fff_ffff_f000;

/// Start of the canonical kernel half with 4-level paging. x86's `copy_from_kernel_nofault_allowed`
/// refuses everything below it: user addresses, the page above `TASK_SIZE_MAX`, non-canonical addresses.
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// The errno of a failed read of `addr` in `space`: kernel reads the kernel refuses before trying give
/// -ERANGE, every other failure is a fault (-EFAULT).
fn fail_errno(space: Space, addr: u64) -> i32 {
    if space == Space::Kernel && addr < KERNEL_HALF { ERANGE } else { EFAULT }
}

/// Which address space a read targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    User,
    Kernel,
}

impl Space {
    /// The legacy helpers' rule: user below the split, kernel above.
    fn of(addr: u64) -> Space {
        if addr < TASK_SIZE { Space::User } else { Space::Kernel }
    }
}

/// `len` bytes at `addr` in `space`, or `None` on a fault.
pub(crate) fn read_mem(cx: &HelperCtx<'_>, h: &HostState, addr: u64, len: usize, space: Space) -> Option<Vec<u8>> {
    if space == Space::User && addr.checked_add(len as u64).is_none_or(|end| end > TASK_SIZE) {
        return None;
    }
    if let Some(b) = h.read_memory(addr, len) {
        return Some(b);
    }
    if cx.check(addr, len as u64, false) { cx.read(addr, len).ok() } else { None }
}

/// The NUL-terminated string at `addr`, without the NUL, at most `max` bytes; the flag says whether a NUL
/// was found. `None` on a fault before the NUL or the limit.
pub(crate) fn read_str(
    cx: &HelperCtx<'_>,
    h: &HostState,
    addr: u64,
    max: usize,
    space: Space,
) -> Option<(Vec<u8>, bool)> {
    if space == Space::User && addr >= TASK_SIZE {
        return None;
    }
    if let Some(b) = h.read_memory_prefix(addr, max) {
        return match b.iter().position(|&c| c == 0) {
            Some(n) => Some((b[..n].to_vec(), true)),
            None if b.len() == max => Some((b, false)),
            None => None,
        };
    }
    let mut out = Vec::new();
    while out.len() < max {
        let a = addr.checked_add(out.len() as u64)?;
        if space == Space::User && a >= TASK_SIZE {
            return None;
        }
        let c = cx.read(a, 1).ok()?[0];
        if c == 0 {
            return Some((out, true));
        }
        out.push(c);
    }
    Some((out, false))
}

fn probe(cx: &mut HelperCtx<'_>, id: u32, dst: u64, size: u64, src: u64, space: Option<Space>) -> u64 {
    let Some(h) = host(cx, id) else { return 0 };
    let size = size as u32 as usize;
    if !writable(cx, dst, size) {
        return 0;
    }
    let space = space.unwrap_or(Space::of(src));
    match read_mem(cx, h, src, size, space) {
        Some(b) => write(cx, dst, &b).map_or(0, |_| 0),
        None => write(cx, dst, &vec![0; size]).map_or(0, |_| neg(fail_errno(space, src))),
    }
}

fn probe_str(cx: &mut HelperCtx<'_>, id: u32, dst: u64, size: u64, src: u64, space: Option<Space>) -> u64 {
    let Some(h) = host(cx, id) else { return 0 };
    let size = size as u32 as usize;
    if size == 0 {
        return 0;
    }
    if !writable(cx, dst, size) {
        return 0;
    }
    let space = space.unwrap_or(Space::of(src));
    match read_str(cx, h, src, size, space) {
        Some((mut s, terminated)) => {
            if terminated {
                s.push(0);
            } else if let Some(last) = s.last_mut() {
                *last = 0;
            }
            let n = s.len() as u64;
            write(cx, dst, &s).map_or(0, |_| n)
        }
        None => write(cx, dst, &vec![0; size]).map_or(0, |_| neg(fail_errno(space, src))),
    }
}

fn probe_read_body(cx: &mut HelperCtx<'_>, dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    probe(cx, 4, dst, size, src, None)
}
fn probe_read_str_body(cx: &mut HelperCtx<'_>, dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    probe_str(cx, 45, dst, size, src, None)
}
fn probe_read_user_body(cx: &mut HelperCtx<'_>, dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    probe(cx, 112, dst, size, src, Some(Space::User))
}
fn probe_read_kernel_body(cx: &mut HelperCtx<'_>, dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    probe(cx, 113, dst, size, src, Some(Space::Kernel))
}
fn probe_read_user_str_body(cx: &mut HelperCtx<'_>, dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    probe_str(cx, 114, dst, size, src, Some(Space::User))
}
fn probe_read_kernel_str_body(cx: &mut HelperCtx<'_>, dst: u64, size: u64, src: u64, _: u64, _: u64) -> u64 {
    probe_str(cx, 115, dst, size, src, Some(Space::Kernel))
}

declare_helper!(pub(crate) probe_read => probe_read_body);
declare_helper!(pub(crate) probe_read_str => probe_read_str_body);
declare_helper!(pub(crate) probe_read_user => probe_read_user_body);
declare_helper!(pub(crate) probe_read_kernel => probe_read_kernel_body);
declare_helper!(pub(crate) probe_read_user_str => probe_read_user_str_body);
declare_helper!(pub(crate) probe_read_kernel_str => probe_read_kernel_str_body);
