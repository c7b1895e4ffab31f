//! Map helpers, tail calls, callbacks (`bpf_loop`, `bpf_for_each_map_elem`) and spin locks.

use std::time::{Duration, Instant};

use super::{cpu_slot, host, map_arg, neg, read, write};
use crate::abi::{MAX_TAIL_CALLS, STATUS_RUNNING, TrapCode};
use crate::declare_helper;
use crate::exec::HelperCtx;
use crate::helpers::host::HostState;
use crate::maps::{MapType, errno};
use crate::mem::Fault;

const ID_LOOKUP: u32 = 1;
const ID_UPDATE: u32 = 2;
const ID_DELETE: u32 = 3;
const ID_TAIL_CALL: u32 = 12;
const ID_PUSH: u32 = 87;
const ID_POP: u32 = 88;
const ID_PEEK: u32 = 89;
const ID_SPIN_LOCK: u32 = 93;
const ID_SPIN_UNLOCK: u32 = 94;
const ID_FOR_EACH: u32 = 164;
const ID_LOOP: u32 = 181;

/// The kernel's `BPF_MAX_LOOPS`.
pub const BPF_MAX_LOOPS: u64 = 1 << 23;

/// How long `bpf_spin_lock` waits before declaring a deadlock (only unverified code can get here).
const SPIN_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Keys up to this size are read into a stack buffer (the common case: no allocation per call).
const INLINE_KEY: usize = 64;

/// What a fast-path map helper found while holding the registry's read lock.
enum Step {
    NoMap,
    Fault(Fault, u64, usize),
    Done(u64),
}

/// Runs `f` on the map behind `handle` with the key at `key` (key_size bytes) copied in, without taking
/// a reference on the map; turns a missing map or a faulting key read into the usual traps.
fn with_map_key(
    cx: &mut HelperCtx<'_>,
    id: u32,
    handle: u64,
    key: u64,
    f: impl FnOnce(&HelperCtx<'_>, &crate::maps::Map, &[u8]) -> u64,
) -> u64 {
    let Some(h) = host(cx, id) else { return 0 };
    let step = h
        .maps()
        .with_handle(handle, |m| {
            let ks = m.spec().key_size as usize;
            let mut inline = [0u8; INLINE_KEY];
            let mut heap = Vec::new();
            let buf = if ks <= INLINE_KEY {
                &mut inline[..ks]
            } else {
                heap.resize(ks, 0);
                &mut heap[..]
            };
            match cx.read_into(key, buf) {
                Ok(()) => Step::Done(f(cx, m, buf)),
                Err(e) => Step::Fault(e, key, ks),
            }
        })
        .unwrap_or(Step::NoMap);
    match step {
        Step::Done(r) => r,
        Step::Fault(e, addr, len) => {
            cx.fault(e, addr, len, false);
            0
        }
        Step::NoMap => {
            cx.trap(TrapCode::HelperFault, handle);
            0
        }
    }
}

fn lookup_body(cx: &mut HelperCtx<'_>, map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    with_map_key(cx, ID_LOOKUP, map, key, |cx, m, k| {
        let cpu = cx.event().cpu % m.ncpus();
        m.prog_lookup(k, cpu).map_or(0, |f| f.addr())
    })
}

fn update_body(cx: &mut HelperCtx<'_>, map: u64, key: u64, value: u64, flags: u64, _: u64) -> u64 {
    let Some(h) = host(cx, ID_UPDATE) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    let Some(k) = read(cx, key, m.spec().key_size as usize) else { return 0 };
    let Some(v) = read(cx, value, m.spec().value_size as usize) else { return 0 };
    match m.prog_update(&k, &v, flags, cpu_slot(cx, h)) {
        Ok(()) => 0,
        Err(e) => e.helper_ret(),
    }
}

fn delete_body(cx: &mut HelperCtx<'_>, map: u64, key: u64, _: u64, _: u64, _: u64) -> u64 {
    with_map_key(cx, ID_DELETE, map, key, |_, m, k| m.delete(k).map_or_else(|e| e.helper_ret(), |_| 0))
}

fn push_body(cx: &mut HelperCtx<'_>, map: u64, value: u64, flags: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, ID_PUSH) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    let Some(v) = read(cx, value, m.spec().value_size as usize) else { return 0 };
    m.push(&v, flags).map_or_else(|e| e.helper_ret(), |_| 0)
}

fn pop_peek(cx: &mut HelperCtx<'_>, id: u32, map: u64, value: u64, remove: bool) -> u64 {
    let Some(h) = host(cx, id) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    let size = m.spec().value_size as usize;
    let r = if m.map_type() == MapType::BloomFilter {
        // Bloom filter peek is a membership test of the value the program passes.
        let Some(v) = read(cx, value, size) else { return 0 };
        if remove { m.pop() } else { m.peek(&v) }.map(|_| None)
    } else if remove {
        m.pop().map(Some)
    } else {
        m.peek(&[]).map(Some)
    };
    match r {
        Ok(Some(v)) => write(cx, value, &v).map_or(0, |_| 0),
        Ok(None) => 0,
        Err(e) => e.helper_ret(),
    }
}

fn pop_body(cx: &mut HelperCtx<'_>, map: u64, value: u64, _: u64, _: u64, _: u64) -> u64 {
    pop_peek(cx, ID_POP, map, value, true)
}

fn peek_body(cx: &mut HelperCtx<'_>, map: u64, value: u64, _: u64, _: u64, _: u64) -> u64 {
    pop_peek(cx, ID_PEEK, map, value, false)
}

/// `bpf_tail_call(ctx, prog_array, index)`: on success the program stops and the runner starts the
/// program in the slot (the caller's frames are gone); otherwise the program continues after the call,
/// as the kernel does, with a negative r0 (-E2BIG past the end, -EBUSY after [`MAX_TAIL_CALLS`], -ENOENT
/// for an empty slot; the kernel leaves r0 undefined there). Only taken tail calls count against the
/// limit, as in the x86-64 JIT since Linux 6.10 (checked against this machine's kernel by
/// `helpers_kernel::tail_call_limit_with_empty_slots`).
fn tail_call_body(cx: &mut HelperCtx<'_>, _ctx: u64, map: u64, index: u64, _: u64, _: u64) -> u64 {
    let Some(h) = host(cx, ID_TAIL_CALL) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    if m.map_type() != MapType::ProgArray {
        return neg(errno::EINVAL);
    }
    let index = index as u32;
    if index >= m.spec().max_entries {
        return neg(errno::E2BIG);
    }
    if cx.env().tail_call_count >= MAX_TAIL_CALLS as u64 {
        return neg(errno::EBUSY);
    }
    match m.prog_at(index) {
        Some(prog) => {
            cx.tail_call(prog as u64);
            0
        }
        None => neg(errno::ENOENT),
    }
}

/// Runs one callback through the engine's hook. `None` when the program must stop (no hook, a bad
/// function, or the callback trapped / exited / tail-called).
fn callback(cx: &mut HelperCtx<'_>, h: &HostState, id: u32, func: u64, args: [u64; 5]) -> Option<u64> {
    let Some(run) = h.callback_runner() else {
        cx.trap(TrapCode::Unsupported, id as u64);
        return None;
    };
    let Some(r0) = run(cx, func, args) else {
        if cx.env().status == STATUS_RUNNING {
            cx.trap(TrapCode::BadCallTarget, func);
        }
        return None;
    };
    (cx.env().status == STATUS_RUNNING).then_some(r0)
}

/// `bpf_for_each_map_elem(map, callback, ctx, flags)`: calls `callback(map, key, value, ctx)` for every
/// element (this CPU's value for per-CPU maps) until it returns non-zero; returns the number of calls.
fn for_each_body(cx: &mut HelperCtx<'_>, map: u64, func: u64, ctx: u64, flags: u64, _: u64) -> u64 {
    let Some(h) = host(cx, ID_FOR_EACH) else { return 0 };
    let Some(m) = map_arg(cx, h, map) else { return 0 };
    if flags != 0 {
        return neg(errno::EINVAL);
    }
    let elems = m.elem_addrs(cpu_slot(cx, h));
    let mut n = 0u64;
    for (k, v) in elems {
        n += 1;
        let Some(r) = callback(cx, h, ID_FOR_EACH, func, [map, k, v, ctx, 0]) else { return 0 };
        if r != 0 {
            break;
        }
    }
    n
}

/// `bpf_loop(nr_loops, callback, ctx, flags)`: calls `callback(i, ctx)` until it returns non-zero;
/// returns the number of calls. -EINVAL for flags, -E2BIG above [`BPF_MAX_LOOPS`].
fn loop_body(cx: &mut HelperCtx<'_>, nr: u64, func: u64, ctx: u64, flags: u64, _: u64) -> u64 {
    let Some(h) = host(cx, ID_LOOP) else { return 0 };
    if flags != 0 {
        return neg(errno::EINVAL);
    }
    let nr = nr as u32 as u64;
    if nr > BPF_MAX_LOOPS {
        return neg(errno::E2BIG);
    }
    for i in 0..nr {
        let Some(r) = callback(cx, h, ID_LOOP, func, [i, ctx, 0, 0, 0]) else { return 0 };
        if r != 0 {
            return i + 1;
        }
    }
    nr
}

fn lock_word(cx: &mut HelperCtx<'_>, id: u32, addr: u64) -> Option<(std::sync::Arc<crate::maps::Map>, usize)> {
    let h = host(cx, id)?;
    let found = h.maps().map_containing(addr).and_then(|m| {
        let off = m.lock_arena(addr).map(|(_, off)| off)?;
        (off % 4 == 0).then_some((m.clone(), off))
    });
    if found.is_none() {
        cx.trap(TrapCode::HelperFault, addr);
    }
    found
}

/// `bpf_spin_lock`: a test-and-set lock on the u32 in a map value, shared with `BPF_F_LOCK` updates.
fn spin_lock_body(cx: &mut HelperCtx<'_>, lock: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some((m, off)) = lock_word(cx, ID_SPIN_LOCK, lock) else { return 0 };
    let (arena, _) = m.lock_arena(lock).expect("found above");
    let start = Instant::now();
    let mut spins = 0u32;
    while arena.cas_u32(off, 0, 1) != 0 {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            if start.elapsed() > SPIN_LOCK_TIMEOUT {
                cx.trap(TrapCode::HelperFault, lock);
                return 0;
            }
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    0
}

fn spin_unlock_body(cx: &mut HelperCtx<'_>, lock: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    let Some((m, off)) = lock_word(cx, ID_SPIN_UNLOCK, lock) else { return 0 };
    let (arena, _) = m.lock_arena(lock).expect("found above");
    arena.cas_u32(off, 1, 0);
    0
}

declare_helper!(pub(crate) map_lookup_elem => lookup_body);
declare_helper!(pub(crate) map_update_elem => update_body);
declare_helper!(pub(crate) map_delete_elem => delete_body);
declare_helper!(pub(crate) map_push_elem => push_body);
declare_helper!(pub(crate) map_pop_elem => pop_body);
declare_helper!(pub(crate) map_peek_elem => peek_body);
declare_helper!(pub(crate) tail_call => tail_call_body);
declare_helper!(pub(crate) for_each_map_elem => for_each_body);
declare_helper!(pub(crate) bpf_loop => loop_body);
declare_helper!(pub(crate) spin_lock => spin_lock_body);
declare_helper!(pub(crate) spin_unlock => spin_unlock_body);
