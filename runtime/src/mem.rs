//! The one place where raw memory is touched: region checks, then loads, stores and atomics.
//!
//! A BPF program may touch exactly three kinds of memory: the per-invocation stack area (all frames, one
//! region), its context (writable only when `ctx_writable`), and the extra [`Region`]s the runtime hands
//! it (map storage, global data). [`Bounds`] describes those ranges; every access by the interpreter,
//! by helpers (through `exec::HelperCtx`) and by checked-mode native code (through [`check_access`])
//! asks [`Bounds::check`] first, so nothing in bpfc dereferences a BPF address anywhere else.
//!
//! Hazards handled here:
//! - overflow: `addr + len` is computed with `checked_add`, so a range wrapping past 2^64 never passes;
//! - alignment: plain loads and stores are unaligned-safe (`read_unaligned`/`write_unaligned`), as BPF
//!   allows unaligned stack and map accesses on x86; atomics need natural alignment (the kernel verifier
//!   demands it too) and fail with [`Fault::Misaligned`] otherwise;
//! - provenance: BPF addresses are integers; the owners of the memory (`exec`) expose the provenance of
//!   the stack and ctx pointers, and accesses rebuild pointers with `with_exposed_provenance_mut`;
//! - endianness: memory is read in host byte order, as the kernel does (BPF's `le`/`be` are relative to
//!   the host).

use crate::abi::{Env, Region, STATUS_TRAP, TrapCode, TrapInfo};
use crate::isa::Size;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// `info` bit of [`check_access`]: the access is a store.
pub const INFO_WRITE: u64 = 1 << 8;
/// `info` bit of [`check_access`]: the access is atomic (requires natural alignment).
pub const INFO_ATOMIC: u64 = 1 << 9;

/// Packs an access description the way [`crate::abi::CheckFn`] receives it: size in bits 0–7, write in
/// bit 8, atomic in bit 9, the instruction's slot in bits 32–63.
pub fn access_info(size: usize, write: bool, atomic: bool, pc: u32) -> u64 {
    (size as u64 & 0xff)
        | if write { INFO_WRITE } else { 0 }
        | if atomic { INFO_ATOMIC } else { 0 }
        | (u64::from(pc) << 32)
}

/// Why an access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Outside every accessible region (or a store to a read-only one).
    OutOfBounds,
    /// An atomic access not aligned to its size.
    Misaligned,
}

impl Fault {
    /// The trap record for this fault at `addr`, with `info` as packed by [`access_info`]: detail is the
    /// address, `access` the low 32 bits of `info` (size | write << 8 | atomic << 9).
    pub fn trap(self, addr: u64, info: u64) -> TrapInfo {
        let code = match self {
            Fault::OutOfBounds => TrapCode::OutOfBounds,
            Fault::Misaligned => TrapCode::Misaligned,
        };
        TrapInfo { code: code as u32, pc: (info >> 32) as u32, detail: addr, access: info & 0xffff_ffff }
    }
}

/// The memory one invocation may access. Plain data plus a borrowed region table; the promise that the
/// described ranges are real, live memory is made once, by the `unsafe` constructor.
#[derive(Clone, Copy, Debug)]
pub struct Bounds<'a> {
    stack_base: u64,
    stack_top: u64,
    ctx: u64,
    ctx_len: u64,
    ctx_writable: bool,
    regions: &'a [Region],
}

fn inside(start: u64, end: u64, addr: u64, len: u64) -> bool {
    match addr.checked_add(len) {
        Some(last) => addr >= start && last <= end,
        None => false,
    }
}

impl<'a> Bounds<'a> {
    /// Describes the accessible memory.
    ///
    /// # Safety
    /// For `'a`, `[stack_base, stack_top)`, `[ctx, ctx + ctx_len)` and every region must be memory that
    /// may be read (and written where marked writable) through pointers rebuilt from these integers
    /// (their provenance exposed), and that no Rust reference aliases while the program runs.
    pub unsafe fn new(
        stack_base: u64,
        stack_top: u64,
        ctx: u64,
        ctx_len: u64,
        ctx_writable: bool,
        regions: &'a [Region],
    ) -> Bounds<'a> {
        Bounds { stack_base, stack_top, ctx, ctx_len, ctx_writable, regions }
    }

    /// The bounds recorded in an `Env`.
    ///
    /// # Safety
    /// `env.regions` must point to `env.region_count` valid [`Region`]s (or be null with count 0), and
    /// everything the env describes must satisfy the contract of [`Bounds::new`] for `'a`.
    pub unsafe fn from_env(env: &'a Env) -> Bounds<'a> {
        let regions: &'a [Region] = if env.regions.is_null() || env.region_count == 0 {
            &[]
        } else {
            // SAFETY: the caller guarantees `regions` points to `region_count` live entries for 'a.
            unsafe { std::slice::from_raw_parts(env.regions, env.region_count as usize) }
        };
        Bounds {
            stack_base: env.stack_base,
            stack_top: env.stack_top,
            ctx: env.ctx,
            ctx_len: env.ctx_len,
            ctx_writable: env.ctx_writable != 0,
            regions,
        }
    }

    /// Whether `[addr, addr + len)` lies entirely inside the stack area, the context (stores only if it
    /// is writable) or one region (stores only if writable). Ranges spanning two regions are refused,
    /// as in the kernel, where every access has one pointer type.
    pub fn check(&self, addr: u64, len: u64, write: bool) -> bool {
        if inside(self.stack_base, self.stack_top, addr, len) {
            return true;
        }
        if self.ctx_len != 0
            && (!write || self.ctx_writable)
            && inside(self.ctx, self.ctx.wrapping_add(self.ctx_len), addr, len)
            && self.ctx.checked_add(self.ctx_len).is_some()
        {
            return true;
        }
        self.regions.iter().any(|r| (!write || r.writable != 0) && inside(r.start, r.end, addr, len))
    }

    fn ptr(&self, addr: u64) -> *mut u8 {
        std::ptr::with_exposed_provenance_mut::<u8>(addr as usize)
    }

    /// Loads `size` bytes at `addr`, zero-extended.
    pub fn load(&self, addr: u64, size: Size) -> Result<u64, Fault> {
        if !self.check(addr, size.bytes() as u64, false) {
            return Err(Fault::OutOfBounds);
        }
        let p = self.ptr(addr);
        // SAFETY: `check` proved the bytes lie in memory that `Bounds::new`'s contract makes readable;
        // unaligned reads are allowed.
        Ok(unsafe {
            match size {
                Size::B => u64::from(p.read()),
                Size::H => u64::from(p.cast::<u16>().read_unaligned()),
                Size::W => u64::from(p.cast::<u32>().read_unaligned()),
                Size::DW => p.cast::<u64>().read_unaligned(),
            }
        })
    }

    /// Stores the low `size` bytes of `value` at `addr`.
    pub fn store(&self, addr: u64, size: Size, value: u64) -> Result<(), Fault> {
        if !self.check(addr, size.bytes() as u64, true) {
            return Err(Fault::OutOfBounds);
        }
        let p = self.ptr(addr);
        // SAFETY: `check` proved the bytes lie in writable memory (contract of `Bounds::new`).
        unsafe {
            match size {
                Size::B => p.write(value as u8),
                Size::H => p.cast::<u16>().write_unaligned(value as u16),
                Size::W => p.cast::<u32>().write_unaligned(value as u32),
                Size::DW => p.cast::<u64>().write_unaligned(value),
            }
        }
        Ok(())
    }

    /// Copies `buf.len()` bytes from `addr` into `buf`.
    pub fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if !self.check(addr, buf.len() as u64, false) {
            return Err(Fault::OutOfBounds);
        }
        // SAFETY: the source range was checked readable; `buf` is a distinct Rust buffer (BPF memory is
        // never borrowed as a Rust reference while a program runs), so the ranges do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr(addr), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `bytes` to `addr`.
    pub fn write_from(&self, addr: u64, bytes: &[u8]) -> Result<(), Fault> {
        if !self.check(addr, bytes.len() as u64, true) {
            return Err(Fault::OutOfBounds);
        }
        // SAFETY: the destination was checked writable; `bytes` is Rust memory, not BPF memory.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.ptr(addr), bytes.len()) };
        Ok(())
    }

    fn atomic_ptr(&self, addr: u64, size: Size) -> Result<*mut u8, Fault> {
        let n = size.bytes() as u64;
        if !self.check(addr, n, true) {
            return Err(Fault::OutOfBounds);
        }
        if !addr.is_multiple_of(n) {
            return Err(Fault::Misaligned);
        }
        Ok(self.ptr(addr))
    }

    /// Atomically applies `f(old)` to the 4- or 8-byte word at `addr` (sequentially consistent, as the
    /// kernel's fully ordered `atomic_*` operations) and returns the old value, zero-extended.
    /// `size` must be `W` or `DW` (decode guarantees it); anything else is treated as `DW`.
    pub fn atomic_rmw(&self, addr: u64, size: Size, f: impl Fn(u64) -> u64) -> Result<u64, Fault> {
        let p = self.atomic_ptr(addr, size)?;
        if size == Size::W {
            // SAFETY: checked in bounds, writable and 4-byte aligned; other threads touch BPF memory only
            // atomically or racily as the kernel allows (map values are shared without locks there too).
            let a = unsafe { AtomicU32::from_ptr(p.cast()) };
            let old = a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(f(u64::from(v)) as u32));
            Ok(u64::from(old.unwrap_or_else(|v| v)))
        } else {
            // SAFETY: as above, 8-byte aligned.
            let a = unsafe { AtomicU64::from_ptr(p.cast()) };
            let old = a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| Some(f(v)));
            Ok(old.unwrap_or_else(|v| v))
        }
    }

    /// Atomic compare-and-exchange: if the word equals `expected` (truncated to the size), store `new`.
    /// Returns the old value, zero-extended.
    pub fn atomic_cmpxchg(&self, addr: u64, size: Size, expected: u64, new: u64) -> Result<u64, Fault> {
        let p = self.atomic_ptr(addr, size)?;
        if size == Size::W {
            // SAFETY: checked in bounds, writable and 4-byte aligned.
            let a = unsafe { AtomicU32::from_ptr(p.cast()) };
            let r = a.compare_exchange(expected as u32, new as u32, Ordering::SeqCst, Ordering::SeqCst);
            Ok(u64::from(r.unwrap_or_else(|v| v)))
        } else {
            // SAFETY: checked in bounds, writable and 8-byte aligned.
            let a = unsafe { AtomicU64::from_ptr(p.cast()) };
            let r = a.compare_exchange(expected, new, Ordering::SeqCst, Ordering::SeqCst);
            Ok(r.unwrap_or_else(|v| v))
        }
    }
}

/// Whether `[addr, addr + len)` may be accessed by the invocation `env` describes.
///
/// # Safety
/// `env` must point to a live `Env` whose `regions`/`region_count` describe a valid table.
pub unsafe fn check(env: *const Env, addr: u64, len: u64, write: bool) -> bool {
    // SAFETY: the caller guarantees `env` and its region table are valid.
    unsafe { Bounds::from_env(&*env) }.check(addr, len, write)
}

/// The access checker of checked-mode native code ([`crate::abi::CheckFn`]). `info` is packed as by
/// [`access_info`]. Returns 1 when the access is allowed; otherwise records an `OutOfBounds` (or, for
/// atomics, `Misaligned`) trap with `detail = addr` in `env`, sets `STATUS_TRAP` and returns 0.
///
/// # Safety
/// `env` must point to the live `Env` of the running invocation (as generated code passes it).
pub unsafe extern "C" fn check_access(env: *mut Env, addr: u64, info: u64) -> u64 {
    if env.is_null() {
        return 0;
    }
    let size = info & 0xff;
    let write = info & INFO_WRITE != 0;
    // SAFETY: the caller guarantees `env` is the live invocation block; no other reference to it is
    // held while generated code calls us.
    let env = unsafe { &mut *env };
    // SAFETY: `env` was built by `exec`, whose region table outlives the run.
    let ok = unsafe { check(env, addr, size, write) };
    let fault = if !ok {
        Some(Fault::OutOfBounds)
    } else if info & INFO_ATOMIC != 0 && size != 0 && !addr.is_multiple_of(size) {
        Some(Fault::Misaligned)
    } else {
        None
    };
    match fault {
        None => 1,
        Some(f) => {
            env.trap = f.trap(addr, info);
            env.status = STATUS_TRAP;
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(regions: &[Region]) -> Bounds<'_> {
        // SAFETY: these bounds are only checked, never dereferenced.
        unsafe { Bounds::new(0x1000, 0x2000, 0x8000, 16, false, regions) }
    }

    #[test]
    fn ranges_must_lie_inside_one_region() {
        let r =
            [Region { start: 0x9000, end: 0x9010, writable: 1 }, Region { start: 0x9010, end: 0x9020, writable: 0 }];
        let b = bounds(&r);
        assert!(b.check(0x1000, 8, true));
        assert!(b.check(0x1ff8, 8, true));
        assert!(!b.check(0x1ff9, 8, false));
        assert!(!b.check(0xfff, 1, false));
        assert!(b.check(0x8000, 16, false));
        assert!(!b.check(0x8000, 1, true), "ctx is read-only here");
        assert!(!b.check(0x8008, 9, false));
        assert!(b.check(0x9008, 8, true));
        assert!(!b.check(0x900c, 8, false), "spans two regions");
        assert!(b.check(0x9010, 8, false));
        assert!(!b.check(0x9010, 8, true), "region is read-only");
        assert!(!b.check(u64::MAX - 3, 8, false), "wrapping range");
    }

    #[test]
    fn check_access_records_the_trap() {
        let mut stack = [0u64; 8];
        let base = stack.as_mut_ptr().expose_provenance() as u64;
        let mut env = Env {
            version: 1,
            helpers: std::ptr::null(),
            maps: std::ptr::null(),
            map_values: std::ptr::null(),
            stack_top: base + 64,
            stack_base: base,
            ctx: 0,
            ctx_len: 0,
            ctx_writable: 0,
            regions: std::ptr::null(),
            region_count: 0,
            check: None,
            status: 0,
            exit_value: 0,
            tail_call_target: 0,
            tail_call_count: 0,
            budget: 0,
            trap: TrapInfo::default(),
            event: Default::default(),
            host: std::ptr::null_mut(),
            callback_fp: 0,
        };
        // SAFETY: env is live and its region table empty.
        unsafe {
            assert_eq!(check_access(&mut env, base + 8, access_info(8, true, false, 3)), 1);
            assert_eq!(env.status, 0);
            assert_eq!(check_access(&mut env, base + 4, access_info(8, true, true, 5)), 0);
            assert_eq!(env.trap, TrapInfo { code: 8, pc: 5, detail: base + 4, access: 8 | 0x300 });
            assert_eq!(check_access(&mut env, base + 60, access_info(8, false, false, 7)), 0);
            assert_eq!(env.trap, TrapInfo { code: 1, pc: 7, detail: base + 60, access: 8 });
            assert_eq!(env.status, STATUS_TRAP);
        }
    }
}
