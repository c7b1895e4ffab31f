//! The one helper signature table: id, name, argument kinds and return kind of every helper bpfc
//! supports, transcribed from the kernel's `bpf_func_proto`s (kernel/bpf/helpers.c,
//! kernel/trace/bpf_trace.c, kernel/bpf/ringbuf.c, ...). The verifier checks calls against it; the
//! runtime binds implementations by the same ids. An id not in this table is an unknown helper: a load
//! error naming it.
//!
//! Argument kinds follow the kernel's `enum bpf_arg_type` closely enough that the verifier can apply the
//! same rules: a memory argument is always followed by its size argument (`Mem*` then `Size*`), a map
//! argument must be a constant map pointer, and key/value pointers are sized by that map.

/// What a helper argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgKind {
    /// Any initialised value, pointers included (`ARG_ANYTHING`).
    Anything,
    /// A constant map pointer (`ARG_CONST_MAP_PTR`), `lddw rN, map`.
    MapPtr,
    /// Pointer to `key_size` initialised bytes of the map argument (`ARG_PTR_TO_MAP_KEY`).
    MapKey,
    /// Pointer to `value_size` initialised bytes of the map argument (`ARG_PTR_TO_MAP_VALUE`).
    MapValue,
    /// Pointer to `value_size` writable bytes (may be uninitialised) of the map argument
    /// (`ARG_PTR_TO_MAP_VALUE | MEM_UNINIT`, pop/peek).
    MapValueUninit,
    /// Pointer to memory the helper reads; the next argument is its size (`ARG_PTR_TO_MEM | MEM_RDONLY`).
    MemRead,
    /// Like [`ArgKind::MemRead`] but may be NULL when the size is 0 (`PTR_MAYBE_NULL`).
    MemReadOrNull,
    /// Pointer to memory the helper fills; may be uninitialised; the next argument is its size
    /// (`ARG_PTR_TO_UNINIT_MEM`).
    MemWrite,
    /// The size of the previous memory argument, a bounded scalar > 0 (`ARG_CONST_SIZE`).
    Size,
    /// The size of the previous memory argument, a bounded scalar ≥ 0 (`ARG_CONST_SIZE_OR_ZERO`).
    SizeOrZero,
    /// A size for an allocation, a known constant (`ARG_CONST_ALLOC_SIZE_OR_ZERO`).
    AllocSize,
    /// The program's context pointer (`ARG_PTR_TO_CTX`).
    Ctx,
    /// A BPF function: `lddw rN, func` (`ARG_PTR_TO_FUNC`); the verifier checks it as a callback.
    Func,
    /// A stack pointer or NULL (`ARG_PTR_TO_STACK_OR_NULL`), the callback context.
    StackOrNull,
    /// A record returned by `ringbuf_reserve`, released by this call (`ARG_PTR_TO_RINGBUF_MEM | OBJ_RELEASE`).
    RingbufMem,
    /// Pointer to 8 writable bytes (`ARG_PTR_TO_LONG`, strtol's result).
    Long,
    /// Pointer to a `struct bpf_spin_lock` inside a map value (`ARG_PTR_TO_SPIN_LOCK`).
    SpinLock,
    /// Pointer into a read-only map value holding a NUL-terminated string (`ARG_PTR_TO_CONST_STR`).
    ConstStr,
}

/// What a helper returns in r0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RetKind {
    /// An unknown scalar (`RET_INTEGER`).
    Integer,
    /// Nothing (`RET_VOID`): r0 is unreadable afterwards, as in the kernel.
    Void,
    /// A pointer to a value of the map argument, or NULL (`RET_PTR_TO_MAP_VALUE_OR_NULL`).
    MapValueOrNull,
    /// A fresh reference to memory of the size given by the `AllocSize` argument, or NULL
    /// (`RET_PTR_TO_MEM_OR_NULL | MEM_RINGBUF`, acquired: must be submitted or discarded).
    RingbufMemOrNull,
}

/// One helper's signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HelperSpec {
    /// The kernel's helper id (`BPF_FUNC_*`).
    pub id: u32,
    /// The kernel's name without the `bpf_` prefix.
    pub name: &'static str,
    /// Argument kinds, r1 first; unused argument registers are not listed.
    pub args: &'static [ArgKind],
    /// Return kind.
    pub ret: RetKind,
    /// Whether the kernel offers it only to GPL-compatible programs (`gpl_only` in its proto).
    pub gpl_only: bool,
}

use ArgKind::*;
use RetKind::*;

const fn h(id: u32, name: &'static str, args: &'static [ArgKind], ret: RetKind, gpl_only: bool) -> HelperSpec {
    HelperSpec { id, name, args, ret, gpl_only }
}

/// Every helper bpfc knows, sorted by id.
pub static HELPERS: &[HelperSpec] = &[
    h(1, "map_lookup_elem", &[MapPtr, MapKey], MapValueOrNull, false),
    h(2, "map_update_elem", &[MapPtr, MapKey, MapValue, Anything], Integer, false),
    h(3, "map_delete_elem", &[MapPtr, MapKey], Integer, false),
    h(4, "probe_read", &[MemWrite, SizeOrZero, Anything], Integer, true),
    h(5, "ktime_get_ns", &[], Integer, false),
    h(6, "trace_printk", &[MemRead, Size], Integer, true),
    h(7, "get_prandom_u32", &[], Integer, false),
    h(8, "get_smp_processor_id", &[], Integer, false),
    h(12, "tail_call", &[Ctx, MapPtr, Anything], Void, false),
    h(14, "get_current_pid_tgid", &[], Integer, false),
    h(15, "get_current_uid_gid", &[], Integer, false),
    h(16, "get_current_comm", &[MemWrite, Size], Integer, false),
    h(25, "perf_event_output", &[Ctx, MapPtr, Anything, MemRead, SizeOrZero], Integer, true),
    h(27, "get_stackid", &[Ctx, MapPtr, Anything], Integer, true),
    h(35, "get_current_task", &[], Integer, true),
    h(42, "get_numa_node_id", &[], Integer, false),
    h(45, "probe_read_str", &[MemWrite, SizeOrZero, Anything], Integer, true),
    h(67, "get_stack", &[Ctx, MemWrite, SizeOrZero, Anything], Integer, true),
    h(87, "map_push_elem", &[MapPtr, MapValue, Anything], Integer, false),
    h(88, "map_pop_elem", &[MapPtr, MapValueUninit], Integer, false),
    h(89, "map_peek_elem", &[MapPtr, MapValueUninit], Integer, false),
    h(93, "spin_lock", &[SpinLock], Void, false),
    h(94, "spin_unlock", &[SpinLock], Void, false),
    h(105, "strtol", &[MemRead, Size, Anything, Long], Integer, false),
    h(106, "strtoul", &[MemRead, Size, Anything, Long], Integer, false),
    h(112, "probe_read_user", &[MemWrite, SizeOrZero, Anything], Integer, true),
    h(113, "probe_read_kernel", &[MemWrite, SizeOrZero, Anything], Integer, true),
    h(114, "probe_read_user_str", &[MemWrite, SizeOrZero, Anything], Integer, true),
    h(115, "probe_read_kernel_str", &[MemWrite, SizeOrZero, Anything], Integer, true),
    h(118, "jiffies64", &[], Integer, false),
    h(125, "ktime_get_boot_ns", &[], Integer, false),
    h(130, "ringbuf_output", &[MapPtr, MemRead, SizeOrZero, Anything], Integer, false),
    h(131, "ringbuf_reserve", &[MapPtr, AllocSize, Anything], RingbufMemOrNull, false),
    h(132, "ringbuf_submit", &[RingbufMem, Anything], Void, false),
    h(133, "ringbuf_discard", &[RingbufMem, Anything], Void, false),
    h(134, "ringbuf_query", &[MapPtr, Anything], Integer, false),
    h(160, "ktime_get_coarse_ns", &[], Integer, false),
    h(164, "for_each_map_elem", &[MapPtr, Func, StackOrNull, Anything], Integer, false),
    h(165, "snprintf", &[MemWrite, SizeOrZero, ConstStr, MemReadOrNull, SizeOrZero], Integer, false),
    h(173, "get_func_ip", &[Ctx], Integer, true),
    h(174, "get_attach_cookie", &[Ctx], Integer, false),
    h(177, "trace_vprintk", &[MemRead, Size, MemReadOrNull, SizeOrZero], Integer, true),
    h(181, "loop", &[Anything, Func, StackOrNull, Anything], Integer, false),
    h(182, "strncmp", &[MemRead, Size, ConstStr], Integer, false),
];

/// Helpers that read user memory through a pointer: `probe_read(_str)` (user or kernel, by address) and
/// `probe_read_user(_str)`.
pub const USER_MEMORY_READERS: [u32; 4] = [4, 45, 112, 114];

/// Whether `code` calls a helper that reads user memory (live event sources then snapshot the user
/// stack with every sample, so strings the process keeps there read as they were at the event).
pub fn reads_user_memory(code: &crate::isa::Code) -> bool {
    code.insns().iter().any(|l| {
        matches!(l.insn, crate::isa::Insn::Call(crate::isa::CallTarget::Helper(id)) if USER_MEMORY_READERS.contains(&(id as u32)))
    })
}

/// The signature of helper `id`, if bpfc knows it.
pub fn lookup(id: u32) -> Option<&'static HelperSpec> {
    HELPERS.binary_search_by_key(&id, |h| h.id).ok().map(|i| &HELPERS[i])
}

/// The signature of the helper called `name` (without `bpf_`).
pub fn by_name(name: &str) -> Option<&'static HelperSpec> {
    HELPERS.iter().find(|h| h.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_sizes_follow_memory() {
        for w in HELPERS.windows(2) {
            assert!(w[0].id < w[1].id, "{} before {}", w[0].name, w[1].name);
        }
        for h in HELPERS {
            assert!(h.args.len() <= 5, "{}", h.name);
            for (i, a) in h.args.iter().enumerate() {
                if matches!(a, MemRead | MemReadOrNull | MemWrite) {
                    assert!(matches!(h.args.get(i + 1), Some(Size | SizeOrZero)), "{} arg {}", h.name, i + 1);
                }
            }
        }
        assert_eq!(lookup(131).map(|h| h.name), Some("ringbuf_reserve"));
        assert_eq!(by_name("loop").map(|h| h.id), Some(181));
        assert!(lookup(9).is_none());
    }
}
