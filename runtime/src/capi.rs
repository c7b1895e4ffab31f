//! The runtime's C API (declared in `include/bpfc.h`; the runtime crate also builds as a static library,
//! `libbpfc_runtime.a`): a C program links a native object from `bpfc build` together with the runtime,
//! binds the object's maps, runs its programs on contexts it builds, and reads the maps back.
//!
//! ```c
//! struct bpfc_runtime *rt = bpfc_runtime_open(&bpfc_object);
//! uint64_t r0; int rc = bpfc_runtime_run(rt, "count_sys_enter", ctx, ctx_len, &event, &r0);
//! bpfc_runtime_map_lookup(rt, "counts", &key, value);
//! bpfc_runtime_close(rt);
//! ```
//!
//! Every pointer argument is checked for NULL; errors are negative errno values, traps their (positive)
//! trap code. Nothing here panics across the FFI boundary.

use crate::abi::{EventMeta, ObjectDesc, ProgType};
use crate::bind::{Binding, Runnable, ctx_writable};
use crate::exec::Outcome;
use crate::native::NativeLibrary;
use std::ffi::{CStr, c_char};

/// An object bound to a runtime, handed to C as an opaque pointer.
#[derive(Debug)]
pub struct CRuntime {
    lib: NativeLibrary,
    binding: Binding,
}

fn name<'a>(p: *const c_char) -> Option<&'a str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: the C caller passes a NUL-terminated string (documented in bpfc.h); checked non-null above.
    unsafe { CStr::from_ptr(p) }.to_str().ok()
}

/// Binds the object whose descriptor is `obj` (normally `&bpfc_object`): creates its maps with their
/// initial contents. Returns NULL if the descriptor is not a bpfc object of this ABI version.
///
/// # Safety
/// `obj` must be NULL or the descriptor of a bpfc native object linked into this process.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpfc_runtime_open(obj: *const ObjectDesc) -> *mut CRuntime {
    // SAFETY: forwarded caller contract; `from_linked` checks magic and version.
    let Ok(lib) = (unsafe { NativeLibrary::from_linked(obj) }) else { return std::ptr::null_mut() };
    let Ok(binding) = Binding::new(&lib.maps) else { return std::ptr::null_mut() };
    binding.host().allow_native_callbacks(lib.programs.iter().flat_map(|p| p.callbacks.iter().copied()));
    Box::into_raw(Box::new(CRuntime { lib, binding }))
}

/// Releases a runtime from [`bpfc_runtime_open`] and its maps.
///
/// # Safety
/// `rt` must be NULL or a pointer returned by `bpfc_runtime_open`, not used afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpfc_runtime_close(rt: *mut CRuntime) {
    if !rt.is_null() {
        // SAFETY: `rt` came from `Box::into_raw` in `bpfc_runtime_open` (caller contract).
        drop(unsafe { Box::from_raw(rt) });
    }
}

/// Runs program `prog` on `ctx` (`ctx_len` bytes; NULL/0 for none) for `event` (NULL: zeros), following
/// tail calls. Stores r0 in `*r0`. Returns 0, a positive trap code (`enum bpfc_trap_code`), or -ENOENT
/// (no such program) / -EINVAL (bad arguments).
///
/// # Safety
/// `rt` from `bpfc_runtime_open`; `prog` a C string; `ctx` valid for `ctx_len` bytes; `event` NULL or a
/// `struct bpfc_event`; `r0` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpfc_runtime_run(
    rt: *mut CRuntime,
    prog: *const c_char,
    ctx: *mut u8,
    ctx_len: usize,
    event: *const EventMeta,
    r0: *mut u64,
) -> i32 {
    // SAFETY: caller contract: `rt` is live and not shared with another call.
    let Some(rt) = (unsafe { rt.as_ref() }) else { return -libc::EINVAL };
    let Some(prog) = name(prog) else { return -libc::EINVAL };
    let Some(index) = rt.lib.programs.iter().position(|p| p.name == prog) else { return -libc::ENOENT };
    let ctx: &mut [u8] = if ctx.is_null() || ctx_len == 0 {
        &mut []
    } else {
        // SAFETY: caller contract: `ctx` is valid for `ctx_len` bytes and not aliased during the run.
        unsafe { std::slice::from_raw_parts_mut(ctx, ctx_len) }
    };
    // SAFETY: caller contract: NULL or a valid event.
    let event = unsafe { event.as_ref() }.copied().unwrap_or_default();
    let programs: Vec<Runnable<'_>> = rt.lib.programs.iter().map(|p| Runnable::Native(p.entry())).collect();
    let writable = ctx_writable(ProgType::from_u32(rt.lib.programs[index].prog_type).unwrap_or(ProgType::Unspec));
    let report = rt.binding.run(&programs, index, ctx, event, writable);
    let (code, value) = match report.outcome {
        Outcome::Exit(v) => (0, v),
        Outcome::Trap(t) => (t.code as i32, 0),
        Outcome::TailCall { .. } => (0, 0),
    };
    // SAFETY: caller contract: NULL or writable.
    if let Some(out) = unsafe { r0.as_mut() } {
        *out = value;
    }
    code
}

fn map_index(rt: &CRuntime, map: *const c_char) -> Option<usize> {
    let map = name(map)?;
    rt.lib.maps.iter().position(|m| m.name == map)
}

/// Copies the value of `key` in map `map` into `value` (the map's value size; all CPUs for per-CPU maps).
/// Returns 0, -ENOENT, or -EINVAL.
///
/// # Safety
/// `rt` from `bpfc_runtime_open`; `map` a C string; `key` and `value` valid for the map's key and value
/// sizes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpfc_runtime_map_lookup(
    rt: *mut CRuntime,
    map: *const c_char,
    key: *const u8,
    value: *mut u8,
) -> i32 {
    // SAFETY: caller contract.
    let Some(rt) = (unsafe { rt.as_ref() }) else { return -libc::EINVAL };
    let Some(i) = map_index(rt, map) else { return -libc::ENOENT };
    let Some(m) = rt.binding.map(i) else { return -libc::ENOENT };
    if key.is_null() || value.is_null() {
        return -libc::EINVAL;
    }
    // SAFETY: caller contract: `key` holds the map's key size.
    let k = unsafe { std::slice::from_raw_parts(key, m.spec().key_size as usize) };
    match m.lookup(k) {
        Ok(v) => {
            // SAFETY: caller contract: `value` holds the map's (host) value size, which `v` has.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), value, v.len()) };
            0
        }
        Err(e) => -e.errno().abs(),
    }
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (NULL: the first) in `next`. Returns 0, -ENOENT at the
/// end, or -EINVAL.
///
/// # Safety
/// As [`bpfc_runtime_map_lookup`], with `next` valid for the key size.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bpfc_runtime_map_next_key(
    rt: *mut CRuntime,
    map: *const c_char,
    key: *const u8,
    next: *mut u8,
) -> i32 {
    // SAFETY: caller contract.
    let Some(rt) = (unsafe { rt.as_ref() }) else { return -libc::EINVAL };
    let Some(i) = map_index(rt, map) else { return -libc::ENOENT };
    let Some(m) = rt.binding.map(i) else { return -libc::ENOENT };
    if next.is_null() {
        return -libc::EINVAL;
    }
    let ks = m.spec().key_size as usize;
    // SAFETY: caller contract: `key` is NULL or holds the key size.
    let k = (!key.is_null()).then(|| unsafe { std::slice::from_raw_parts(key, ks) });
    match m.get_next_key(k) {
        Ok(n) => {
            // SAFETY: caller contract: `next` holds the key size, which `n` has.
            unsafe { std::ptr::copy_nonoverlapping(n.as_ptr(), next, n.len().min(ks)) };
            0
        }
        Err(e) => -e.errno().abs(),
    }
}
