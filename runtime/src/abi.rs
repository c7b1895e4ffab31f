//! The contract between generated code and the runtime: the per-invocation [`Env`] block, the helper
//! calling convention, trap codes, and the `#[repr(C)]` descriptor a native object exports.
//!
//! Generated code (JIT or AOT) and the interpreter see exactly the same machine:
//! - a program entry is `extern "C" fn(ctx: u64, env: *mut Env) -> u64` (symbol `bpfc_prog_<name>`);
//!   at entry r1 = ctx, r2 = `env.ctx_len` (the conformance contract; the kernel leaves r2 undefined and
//!   the verifier forbids reading it), r10 = `env.stack_top`;
//! - BPF stack frames live in one per-invocation area (`MAX_FRAMES` × `STACK_SIZE` bytes) that the
//!   runner provides: frame *d* spans `[stack_top - (d+1)·512, stack_top - d·512)`. Interpreter and native
//!   code therefore produce the same r10 values, and checked mode has a single stack region;
//! - helpers are called through `env.helpers[id]` as [`HelperFn`]; maps and global data through
//!   `env.maps[i]` / `env.map_values[i]`, so an object has no undefined symbols and can be bound many
//!   times;
//! - a helper that must stop the program (tail call, an exit request, a fault) sets `env.status`; generated
//!   code tests it after every helper and local call and returns at once, unwinding every BPF frame. The
//!   runner then reads the outcome from `env`.
//!
//! Field offsets are `offset_of!` constants used by the lowering; a unit test pins them.

use std::ffi::{c_char, c_void};
use std::mem::offset_of;

/// Version of this ABI; a native object built for another version is refused at bind time.
pub const ABI_VERSION: u32 = 2;
/// Tag of the function values the interpreter produces for `lddw src=4` (a slot in the low 32 bits).
pub const INTERP_FUNC_TAG: u64 = 0xbfc1_0000_0000_0000;
/// Bytes of one BPF stack frame.
pub const STACK_SIZE: usize = 512;
/// Maximum call depth (frames), as the kernel's `MAX_CALL_FRAMES`.
pub const MAX_FRAMES: usize = 8;
/// Size of the per-invocation stack area.
pub const STACK_AREA: usize = STACK_SIZE * MAX_FRAMES;
/// Maximum tail calls in one chain (the kernel's `MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALLS: u32 = 33;
/// Size of the dense helper table: helper ids are below this.
pub const HELPER_TABLE_LEN: usize = 256;
/// Symbol of the object descriptor in a native object.
pub const OBJECT_SYMBOL: &str = "bpfc_object";
/// Prefix of program entry symbols.
pub const PROG_SYMBOL_PREFIX: &str = "bpfc_prog_";
/// Magic bytes at the start of [`ObjectDesc`].
pub const OBJECT_MAGIC: [u8; 8] = *b"BPFCOBJ\0";

/// A helper function: `env` plus the five argument registers, result in r0.
pub type HelperFn = unsafe extern "C" fn(env: *mut Env, r1: u64, r2: u64, r3: u64, r4: u64, r5: u64) -> u64;
/// The access checker used by checked-mode native code: returns non-zero when the access is allowed;
/// otherwise it has recorded the trap in `env` and returns 0. `info` packs size (bits 0–7), write
/// (bit 8) and the instruction's slot (bits 32–63).
pub type CheckFn = unsafe extern "C" fn(env: *mut Env, addr: u64, info: u64) -> u64;
/// A program entry point.
pub type EntryFn = unsafe extern "C" fn(ctx: u64, env: *mut Env) -> u64;

/// `env.status`: the program is running (or returned normally).
pub const STATUS_RUNNING: u64 = 0;
/// `env.status`: a helper asked the program to stop with `env.exit_value` as its result.
pub const STATUS_EXIT: u64 = 1;
/// `env.status`: `bpf_tail_call` succeeded; run `env.tail_call_target` next.
pub const STATUS_TAIL_CALL: u64 = 2;
/// `env.status`: the program trapped; the details are in `env.trap`.
pub const STATUS_TRAP: u64 = 3;

/// Why a program stopped abnormally. Codes are stable (they cross the native ABI).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrapCode {
    /// A load, store or atomic outside every region it may touch.
    OutOfBounds = 1,
    /// More than [`MAX_FRAMES`] nested BPF calls.
    CallDepth = 2,
    /// The instruction budget ran out (the program does not terminate in time).
    Budget = 3,
    /// A helper id with no implementation in the bound helper table.
    UnknownHelper = 4,
    /// An instruction this runtime cannot execute (legacy packet access, kfunc calls).
    Unsupported = 5,
    /// A helper failed in a way that stops the program.
    HelperFault = 6,
    /// Executed past the end of a function (unverified code only).
    FellOffEnd = 7,
    /// An atomic access at an address not aligned to its size.
    Misaligned = 8,
    /// `callx` through a register that holds no valid helper id.
    BadCallTarget = 9,
}

impl TrapCode {
    /// The code for a raw value.
    pub fn from_u32(v: u32) -> Option<TrapCode> {
        Some(match v {
            1 => TrapCode::OutOfBounds,
            2 => TrapCode::CallDepth,
            3 => TrapCode::Budget,
            4 => TrapCode::UnknownHelper,
            5 => TrapCode::Unsupported,
            6 => TrapCode::HelperFault,
            7 => TrapCode::FellOffEnd,
            8 => TrapCode::Misaligned,
            9 => TrapCode::BadCallTarget,
            _ => return None,
        })
    }
}

/// `TrapInfo::detail` of [`TrapCode::Unsupported`] traps: what could not be executed.
pub mod unsupported {
    /// Legacy packet access (`LD_ABS`/`LD_IND`).
    pub const LD_PACKET: u64 = 1;
    /// A kfunc call.
    pub const KFUNC: u64 = 2;
    /// `lddw` with a raw map fd (`src=1`) that no binding resolved.
    pub const MAP_FD: u64 = 3;
    /// `lddw` with a raw map fd value address (`src=2`) that no binding resolved.
    pub const MAP_VALUE_FD: u64 = 4;
    /// `lddw` of a kernel symbol by BTF id (`src=3`).
    pub const BTF_ID: u64 = 5;
    /// `lddw` of a function address (`src=4`) where callbacks are not bound.
    pub const FUNC_REF: u64 = 6;
    /// `lddw` of a map index (`src=5/6`) beyond the bound maps.
    pub const MAP_INDEX: u64 = 7;
}

/// Details of a trap, written by whoever detected it. For `UnknownHelper` and `BadCallTarget`, `detail`
/// is the id as an unsigned 32-bit value (`id as u32 as u64`) and the register value respectively.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrapInfo {
    /// A [`TrapCode`] value.
    pub code: u32,
    /// Slot of the instruction that trapped.
    pub pc: u32,
    /// Faulting address, helper id, or other code-specific detail.
    pub detail: u64,
    /// Access size and direction for out-of-bounds traps (size | write << 8).
    pub access: u64,
}

/// A memory region a program may access (map storage, global data).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// Whether stores are allowed.
    pub writable: u64,
}

/// Metadata of the event a program runs on; the "current task" helpers answer from it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventMeta {
    /// Thread id (the kernel's pid).
    pub tid: u32,
    /// Process id (the kernel's tgid).
    pub pid: u32,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// CPU the event happened on.
    pub cpu: u32,
    /// Padding.
    pub _pad: u32,
    /// Timestamp, ns since boot (`CLOCK_MONOTONIC`).
    pub time_ns: u64,
    /// Task command name, NUL-padded.
    pub comm: [u8; 16],
}

/// The per-invocation block every engine runs a program against.
#[repr(C)]
#[derive(Debug)]
pub struct Env {
    /// [`ABI_VERSION`].
    pub version: u64,
    /// Dense table of [`HELPER_TABLE_LEN`] helpers by id; `None` where unbound.
    pub helpers: *const Option<HelperFn>,
    /// Per map index: the runtime's map handle (what helpers receive as a map pointer).
    pub maps: *const *mut c_void,
    /// Per map index: address of the first value for array-like maps (global data), else null.
    pub map_values: *const *mut u8,
    /// Top of the stack area (r10 of the entry frame).
    pub stack_top: u64,
    /// Lowest address of the stack area.
    pub stack_base: u64,
    /// The context pointer of this invocation.
    pub ctx: u64,
    /// Length of the context (r2 at entry).
    pub ctx_len: u64,
    /// Whether the context may be written.
    pub ctx_writable: u64,
    /// Regions besides stack and context (map storage), for checked mode and the interpreter.
    pub regions: *const Region,
    /// Number of entries in `regions`.
    pub region_count: u64,
    /// The access checker of checked-mode native code.
    pub check: Option<CheckFn>,
    /// One of the `STATUS_*` values.
    pub status: u64,
    /// r0 to report when `status == STATUS_EXIT`.
    pub exit_value: u64,
    /// Program index to run next when `status == STATUS_TAIL_CALL`.
    pub tail_call_target: u64,
    /// Tail calls taken so far in this chain.
    pub tail_call_count: u64,
    /// Remaining instruction budget (interpreter and checked native code).
    pub budget: u64,
    /// Trap details when `status == STATUS_TRAP`.
    pub trap: TrapInfo,
    /// The event this invocation runs on.
    pub event: EventMeta,
    /// The runtime's private state for helpers (maps, output streams); opaque to generated code.
    pub host: *mut c_void,
    /// Frame top for the next BPF callback (`bpf_loop`, `bpf_for_each_map_elem`): code stores its own
    /// `fp - 512` here before calling a helper, and a callback trampoline runs in that frame.
    pub callback_fp: u64,
}

/// Offsets into [`Env`] used by generated code.
pub mod env_offsets {
    use super::*;
    /// `Env::helpers`.
    pub const HELPERS: i32 = offset_of!(Env, helpers) as i32;
    /// `Env::maps`.
    pub const MAPS: i32 = offset_of!(Env, maps) as i32;
    /// `Env::map_values`.
    pub const MAP_VALUES: i32 = offset_of!(Env, map_values) as i32;
    /// `Env::stack_top`.
    pub const STACK_TOP: i32 = offset_of!(Env, stack_top) as i32;
    /// `Env::stack_base`.
    pub const STACK_BASE: i32 = offset_of!(Env, stack_base) as i32;
    /// `Env::ctx_len`.
    pub const CTX_LEN: i32 = offset_of!(Env, ctx_len) as i32;
    /// `Env::check`.
    pub const CHECK: i32 = offset_of!(Env, check) as i32;
    /// `Env::status`.
    pub const STATUS: i32 = offset_of!(Env, status) as i32;
    /// `Env::budget`.
    pub const BUDGET: i32 = offset_of!(Env, budget) as i32;
    /// `Env::trap` `.code`.
    pub const TRAP_CODE: i32 = (offset_of!(Env, trap) + offset_of!(TrapInfo, code)) as i32;
    /// `Env::trap` `.pc`.
    pub const TRAP_PC: i32 = (offset_of!(Env, trap) + offset_of!(TrapInfo, pc)) as i32;
    /// `Env::callback_fp`.
    pub const CALLBACK_FP: i32 = offset_of!(Env, callback_fp) as i32;
    /// `Env::trap` `.detail`.
    pub const TRAP_DETAIL: i32 = (offset_of!(Env, trap) + offset_of!(TrapInfo, detail)) as i32;
}

/// Kernel program types (`enum bpf_prog_type`) that bpfc knows.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgType {
    /// `BPF_PROG_TYPE_UNSPEC`: raw bytecode with no attach point (conformance programs).
    Unspec = 0,
    /// `BPF_PROG_TYPE_SOCKET_FILTER`.
    SocketFilter = 1,
    /// `BPF_PROG_TYPE_KPROBE` (also uprobes).
    Kprobe = 2,
    /// `BPF_PROG_TYPE_SCHED_CLS` (tc).
    SchedCls = 3,
    /// `BPF_PROG_TYPE_TRACEPOINT`.
    Tracepoint = 5,
    /// `BPF_PROG_TYPE_XDP`.
    Xdp = 6,
    /// `BPF_PROG_TYPE_PERF_EVENT`.
    PerfEvent = 7,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
    RawTracepoint = 17,
    /// `BPF_PROG_TYPE_TRACING` (tp_btf, fentry, ...).
    Tracing = 26,
    /// `BPF_PROG_TYPE_SYSCALL`.
    Syscall = 31,
}

impl ProgType {
    /// The type for a raw kernel value.
    pub fn from_u32(v: u32) -> Option<ProgType> {
        Some(match v {
            0 => ProgType::Unspec,
            1 => ProgType::SocketFilter,
            2 => ProgType::Kprobe,
            3 => ProgType::SchedCls,
            5 => ProgType::Tracepoint,
            6 => ProgType::Xdp,
            7 => ProgType::PerfEvent,
            17 => ProgType::RawTracepoint,
            26 => ProgType::Tracing,
            31 => ProgType::Syscall,
            _ => return None,
        })
    }
}

/// One program in a native object.
#[repr(C)]
#[derive(Debug)]
pub struct ProgDesc {
    /// Function name (NUL-terminated).
    pub name: *const c_char,
    /// ELF section it came from, e.g. `tracepoint/syscalls/sys_enter_openat`.
    pub section: *const c_char,
    /// A [`ProgType`] value.
    pub prog_type: u32,
    /// Number of BPF instructions (after linking).
    pub insn_count: u32,
    /// The entry point.
    pub entry: Option<EntryFn>,
    /// Number of callback trampolines (functions whose address the program takes).
    pub callback_count: u64,
    /// Callback trampolines, called with the helper ABI (`HelperFn`) by `bpf_loop` and friends.
    pub callbacks: *const Option<HelperFn>,
}

/// One map in a native object.
#[repr(C)]
#[derive(Debug)]
pub struct MapDesc {
    /// Map name (NUL-terminated).
    pub name: *const c_char,
    /// Kernel `enum bpf_map_type` value.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// Index of the inner map template for map-in-map, or -1.
    pub inner_map: i32,
    /// Initial contents of value 0 (global data sections), or null.
    pub init: *const u8,
    /// Length of `init`.
    pub init_len: u64,
}

/// The descriptor exported as [`OBJECT_SYMBOL`] by every native object.
#[repr(C)]
#[derive(Debug)]
pub struct ObjectDesc {
    /// [`OBJECT_MAGIC`].
    pub magic: [u8; 8],
    /// [`ABI_VERSION`].
    pub abi_version: u32,
    /// Non-zero when the code was built in checked mode.
    pub checked: u32,
    /// Number of programs.
    pub prog_count: u64,
    /// The programs.
    pub progs: *const ProgDesc,
    /// Number of maps.
    pub map_count: u64,
    /// The maps, indexed as `env.maps`.
    pub maps: *const MapDesc,
    /// Number of helper ids used.
    pub helper_count: u64,
    /// Helper ids the code calls (the binder refuses to bind when one is missing).
    pub helpers: *const u32,
    /// License string (NUL-terminated).
    pub license: *const c_char,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generated code hard-codes these offsets; changing the layout must be deliberate.
    #[test]
    fn env_layout_is_stable() {
        assert_eq!(env_offsets::HELPERS, 8);
        assert_eq!(env_offsets::MAPS, 16);
        assert_eq!(env_offsets::MAP_VALUES, 24);
        assert_eq!(env_offsets::STACK_TOP, 32);
        assert_eq!(env_offsets::STACK_BASE, 40);
        assert_eq!(env_offsets::CTX_LEN, 56);
        assert_eq!(env_offsets::CHECK, 88);
        assert_eq!(env_offsets::STATUS, 96);
        assert_eq!(env_offsets::BUDGET, 128);
        assert_eq!(env_offsets::TRAP_CODE, 136);
        assert_eq!(std::mem::size_of::<Option<HelperFn>>(), 8);
        assert_eq!(offset_of!(Env, event), 160);
        assert_eq!(offset_of!(Env, host), 208);
        assert_eq!(env_offsets::CALLBACK_FP, 216);
        // include/bpfc.h asserts the same sizes for C.
        assert_eq!(std::mem::size_of::<ProgDesc>(), 48);
        assert_eq!(std::mem::size_of::<MapDesc>(), 48);
        assert_eq!(std::mem::size_of::<ObjectDesc>(), 72);
    }
}
