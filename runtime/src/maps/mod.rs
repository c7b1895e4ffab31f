//! BPF maps with the kernel's semantics (kernel/bpf/arraymap.c, hashtab.c, lpm_trie.c,
//! queue_stack_maps.c, ringbuf.c, bloom_filter.c, stackmap.c): the same creation checks, update flags and
//! error codes, and `bpftool map dump`'s output format.
//!
//! Storage never moves: every map allocates its [`Arena`] at creation (max_entries × round_up(value_size,
//! 8), × ncpus for per-CPU maps; hash keys in a second arena), so a value address handed to a program stays
//! valid until its element is deleted, and the arenas are published as [`Region`]s for the interpreter and
//! checked native code. Indexes (hash tables, LRU lists, queues) sit behind a lock per map; array
//! values are reached without a lock, as in the kernel; hash lookups take a read lock (LRU lookups, which
//! reorder the recency list, and all changes take the write lock).
//!
//! Per-CPU maps: the runtime has `ncpus` CPU slots (by default the machine's possible CPUs, as the kernel's
//! `num_possible_cpus()`, so host-side per-CPU value buffers have the kernel's layout). A running program
//! uses slot `env.event.cpu % ncpus`: the CPU of the event it runs on.
//!
//! Every map lives in the [`MapRegistry`] under an fd (the id that programs' map references and the host API
//! use). Generated code sees a map only as the address of its [`MapHandle`] (`env.maps[i]`); helpers turn
//! that address back into the map through the registry, which rejects addresses that are not handles.
//!
//! Semantic differences from the kernel, all invisible through the `bpf()` syscall API:
//! - updating an existing hash element writes in place (the kernel swaps in a fresh preallocated element),
//!   so a program's pointer to it keeps seeing the current value;
//! - LRU maps evict the exact least-recently-used element; the kernel approximates LRU with per-CPU free
//!   lists and reference bits, so which element it evicts is not specified (tests compare only counts and
//!   that the newest element survives). A failing LRU update (-EEXIST) evicts nothing here.

mod arena;
mod array;
pub mod bench;
mod dump;
mod hash;
mod lpm;
mod queue;
mod registry;
mod ringbuf;
mod slot_table;
mod stacktrace;

#[cfg(test)]
mod tests;

pub use arena::{Arena, round8};
pub use array::{ArrayMap, FdArray, PerfEventArray, PerfSample};
pub use dump::hex;
pub use hash::HashMap;
pub use lpm::LpmTrie;
pub use queue::{BloomFilter, QueueMap};
pub use registry::{MapRegistry, possible_cpus};
pub use ringbuf::{RingBuf, RingRecord};
pub use stacktrace::{StackTraceMap, jhash2};

use std::sync::Arc;

use crate::abi::Region;

/// `BPF_ANY`: create or update.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: copy the value under its `bpf_spin_lock`.
pub const BPF_F_LOCK: u64 = 4;

/// `map_flags`: do not preallocate (hash) — required for LPM tries.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// `map_flags`: per-CPU LRU lists.
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
/// `map_flags`: NUMA node given.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// `map_flags`: read-only for the syscall side.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// `map_flags`: write-only for the syscall side.
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// `map_flags`: hash with a zero seed.
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
/// `map_flags`: read-only for programs.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `map_flags`: write-only for programs.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// `map_flags`: the array may be mmap()ed.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `map_flags`: perf event array keeps its elements when the fd closes.
pub const BPF_F_PRESERVE_ELEMS: u32 = 1 << 11;
/// `map_flags`: inner maps of this template may differ in max_entries.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;
const ACCESS_MASK: u32 = BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

/// Errno values the kernel returns from map operations (positive; helpers return the negation).
pub mod errno {
    /// Operation not permitted (frozen map).
    pub const EPERM: i32 = 1;
    /// No such entry.
    pub const ENOENT: i32 = 2;
    /// Bad file descriptor.
    pub const EBADF: i32 = 9;
    /// Try again (ring buffer full).
    pub const EAGAIN: i32 = 11;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Bad address.
    pub const EFAULT: i32 = 14;
    /// Busy (spin lock / map-in-map in use).
    pub const EBUSY: i32 = 16;
    /// Entry exists.
    pub const EEXIST: i32 = 17;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// Argument list too long: index out of range, map full.
    pub const E2BIG: i32 = 7;
    /// No space (LPM trie full).
    pub const ENOSPC: i32 = 28;
    /// Result out of range (strtol).
    pub const ERANGE: i32 = 34;
    /// Operation not supported on transport endpoint (the kernel's EOPNOTSUPP).
    pub const EOPNOTSUPP: i32 = 95;
    /// The kernel-internal ENOTSUPP that map operations leak to user space.
    pub const ENOTSUPP: i32 = 524;
}

/// Kernel map types (`enum bpf_map_type`) that this runtime implements.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapType {
    /// `BPF_MAP_TYPE_HASH`.
    Hash = 1,
    /// `BPF_MAP_TYPE_ARRAY`.
    Array = 2,
    /// `BPF_MAP_TYPE_PROG_ARRAY`.
    ProgArray = 3,
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
    PerfEventArray = 4,
    /// `BPF_MAP_TYPE_PERCPU_HASH`.
    PercpuHash = 5,
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`.
    PercpuArray = 6,
    /// `BPF_MAP_TYPE_STACK_TRACE`.
    StackTrace = 7,
    /// `BPF_MAP_TYPE_LRU_HASH`.
    LruHash = 9,
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
    LruPercpuHash = 10,
    /// `BPF_MAP_TYPE_LPM_TRIE`.
    LpmTrie = 11,
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
    ArrayOfMaps = 12,
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`.
    HashOfMaps = 13,
    /// `BPF_MAP_TYPE_QUEUE`.
    Queue = 22,
    /// `BPF_MAP_TYPE_STACK`.
    Stack = 23,
    /// `BPF_MAP_TYPE_RINGBUF`.
    RingBuf = 27,
    /// `BPF_MAP_TYPE_BLOOM_FILTER`.
    BloomFilter = 30,
}

impl MapType {
    /// The type for a raw kernel value.
    pub fn from_u32(v: u32) -> Option<MapType> {
        use MapType::*;
        Some(match v {
            1 => Hash,
            2 => Array,
            3 => ProgArray,
            4 => PerfEventArray,
            5 => PercpuHash,
            6 => PercpuArray,
            7 => StackTrace,
            9 => LruHash,
            10 => LruPercpuHash,
            11 => LpmTrie,
            12 => ArrayOfMaps,
            13 => HashOfMaps,
            22 => Queue,
            23 => Stack,
            27 => RingBuf,
            30 => BloomFilter,
            _ => return None,
        })
    }

    /// Whether values are per CPU.
    pub fn is_percpu(self) -> bool {
        matches!(self, MapType::PercpuArray | MapType::PercpuHash | MapType::LruPercpuHash)
    }

    /// The kernel's name, as bpftool prints it.
    pub fn name(self) -> &'static str {
        use MapType::*;
        match self {
            Hash => "hash",
            Array => "array",
            ProgArray => "prog_array",
            PerfEventArray => "perf_event_array",
            PercpuHash => "percpu_hash",
            PercpuArray => "percpu_array",
            StackTrace => "stack_trace",
            LruHash => "lru_hash",
            LruPercpuHash => "lru_percpu_hash",
            LpmTrie => "lpm_trie",
            ArrayOfMaps => "array_of_maps",
            HashOfMaps => "hash_of_maps",
            Queue => "queue",
            Stack => "stack",
            RingBuf => "ringbuf",
            BloomFilter => "bloom_filter",
        }
    }
}

/// What a map is created from (the kernel's `BPF_MAP_CREATE` attributes).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapSpec {
    /// Map name (for dumps and errors).
    pub name: String,
    /// Raw `enum bpf_map_type` value.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries (ring buffer: size in bytes; bloom filter: number of expected elements).
    pub max_entries: u32,
    /// `map_flags` (bloom filter: the low 4 bits of `map_extra` are taken from here, see [`MapSpec::map_extra`]).
    pub flags: u32,
    /// `map_extra` (bloom filter: number of hash functions in the low 4 bits, 0 = 5).
    pub map_extra: u64,
    /// Map-in-map: fd of the inner map template.
    pub inner_map_fd: Option<u32>,
    /// Offset of a `struct bpf_spin_lock` in the value (from BTF), for `BPF_F_LOCK` and the lock helpers.
    pub spin_lock_off: Option<u32>,
}

/// A map operation failed; each variant is one kernel errno.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// `-EINVAL`.
    #[error("invalid argument: {what}")]
    Invalid {
        /// What was wrong.
        what: &'static str,
    },
    /// `-E2BIG`: index out of range, or the map is full.
    #[error("too big: {what}")]
    TooBig {
        /// What was too big.
        what: &'static str,
    },
    /// `-ENOENT`.
    #[error("no such element")]
    NotFound,
    /// `-EEXIST`.
    #[error("element exists")]
    Exists,
    /// `-ENOSPC` (LPM trie full).
    #[error("no space left in map")]
    NoSpace,
    /// `-EAGAIN` (ring buffer full).
    #[error("ring buffer full")]
    Again,
    /// `-EBADF`: no map with this fd.
    #[error("no map with fd {fd}")]
    BadFd {
        /// The fd.
        fd: u32,
    },
    /// `-ENOTSUPP` (524): the operation does not exist for this map type.
    #[error("operation {op} not supported by {map_type} maps")]
    NotSupported {
        /// The operation.
        op: &'static str,
        /// The map type name.
        map_type: &'static str,
    },
    /// `-EOPNOTSUPP` (95).
    #[error("operation {op} not supported")]
    OpNotSupported {
        /// The operation.
        op: &'static str,
    },
    /// `-EPERM`: the map is frozen (`BPF_MAP_FREEZE`) and the host may no longer write it.
    #[error("map is frozen")]
    Frozen,
    /// `-ENOMEM`: the arena could not be sized.
    #[error("cannot allocate {bytes} bytes")]
    NoMem {
        /// Requested bytes.
        bytes: u64,
    },
}

impl MapError {
    /// The kernel errno (positive).
    pub fn errno(&self) -> i32 {
        match self {
            MapError::Invalid { .. } => errno::EINVAL,
            MapError::TooBig { .. } => errno::E2BIG,
            MapError::NotFound => errno::ENOENT,
            MapError::Exists => errno::EEXIST,
            MapError::NoSpace => errno::ENOSPC,
            MapError::Again => errno::EAGAIN,
            MapError::BadFd { .. } => errno::EBADF,
            MapError::NotSupported { .. } => errno::ENOTSUPP,
            MapError::OpNotSupported { .. } => errno::EOPNOTSUPP,
            MapError::NoMem { .. } => errno::ENOMEM,
            MapError::Frozen => errno::EPERM,
        }
    }

    /// The value a helper returns for this error (`-errno` as u64).
    pub fn helper_ret(&self) -> u64 {
        (-(self.errno() as i64)) as u64
    }
}

/// Result of a map operation.
pub type MapResult<T> = Result<T, MapError>;

/// Magic in [`MapHandle::magic`]: "BMAP".
pub const MAP_HANDLE_MAGIC: u32 = u32::from_le_bytes(*b"BMAP");

/// What generated code holds for a map (`env.maps[i]` is its address): a stable, `#[repr(C)]` tag that
/// helpers turn back into the map through [`MapRegistry::by_handle`]. Its fields are informative (a native
/// object could inline checks on them); they are never trusted without the registry lookup.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapHandle {
    /// [`MAP_HANDLE_MAGIC`].
    pub magic: u32,
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// The map's fd in its registry.
    pub fd: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Max entries.
    pub max_entries: u32,
}

/// The storage of one map family.
#[derive(Debug)]
pub(crate) enum Kind {
    Array(ArrayMap),
    Fd(FdArray),
    Perf(PerfEventArray),
    Hash(HashMap),
    Lpm(LpmTrie),
    Queue(QueueMap),
    Ring(RingBuf),
    Bloom(BloomFilter),
    Stack(StackTraceMap),
}

/// A map: its spec, fd, handle and storage.
#[derive(Debug)]
pub struct Map {
    spec: MapSpec,
    map_type: MapType,
    fd: u32,
    ncpus: u32,
    handle: Box<MapHandle>,
    frozen: std::sync::atomic::AtomicBool,
    pub(crate) kind: Kind,
}

/// What a program-side lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Found {
    /// Address of the value (for this CPU on per-CPU maps).
    Value(u64),
    /// Map-in-map: the inner map's handle address.
    Map(u64),
}

impl Found {
    /// The pointer a program receives in r0.
    pub fn addr(self) -> u64 {
        match self {
            Found::Value(a) | Found::Map(a) => a,
        }
    }
}

/// Validates flags common to all maps; `allowed` is the type's create-flag mask.
fn check_flags(spec: &MapSpec, allowed: u32) -> MapResult<()> {
    if spec.flags & !allowed != 0 {
        return Err(MapError::Invalid { what: "map_flags" });
    }
    Ok(())
}

impl Map {
    /// Creates a map. `inner` is the inner map template for map-in-map types.
    pub(crate) fn create(spec: MapSpec, fd: u32, ncpus: u32, inner: Option<Arc<Map>>) -> MapResult<Map> {
        let map_type = MapType::from_u32(spec.map_type).ok_or(MapError::Invalid { what: "map_type" })?;
        if spec.flags & (BPF_F_RDONLY | BPF_F_WRONLY) == (BPF_F_RDONLY | BPF_F_WRONLY)
            || spec.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) == (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG)
        {
            return Err(MapError::Invalid { what: "map_flags: read-only and write-only" });
        }
        let array_flags = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | ACCESS_MASK | BPF_F_PRESERVE_ELEMS | BPF_F_INNER_MAP;
        let hash_flags = BPF_F_NO_PREALLOC | BPF_F_NO_COMMON_LRU | BPF_F_NUMA_NODE | ACCESS_MASK | BPF_F_ZERO_SEED;
        let kind = match map_type {
            MapType::Array | MapType::PercpuArray => {
                check_flags(&spec, array_flags)?;
                Kind::Array(ArrayMap::new(&spec, map_type.is_percpu(), ncpus)?)
            }
            MapType::ProgArray | MapType::ArrayOfMaps => {
                check_flags(&spec, array_flags)?;
                Kind::Fd(FdArray::new(&spec, inner)?)
            }
            MapType::PerfEventArray => {
                check_flags(&spec, array_flags)?;
                Kind::Perf(PerfEventArray::new(&spec)?)
            }
            MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash | MapType::HashOfMaps => {
                check_flags(&spec, hash_flags)?;
                Kind::Hash(HashMap::new(&spec, map_type, ncpus, inner)?)
            }
            MapType::LpmTrie => Kind::Lpm(LpmTrie::new(&spec)?),
            MapType::StackTrace => Kind::Stack(StackTraceMap::new(&spec)?),
            MapType::Queue | MapType::Stack => {
                check_flags(&spec, BPF_F_NUMA_NODE | ACCESS_MASK)?;
                Kind::Queue(QueueMap::new(&spec, map_type == MapType::Stack)?)
            }
            MapType::RingBuf => {
                check_flags(&spec, BPF_F_NUMA_NODE)?;
                Kind::Ring(RingBuf::new(&spec)?)
            }
            MapType::BloomFilter => {
                check_flags(&spec, BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | ACCESS_MASK)?;
                Kind::Bloom(BloomFilter::new(&spec)?)
            }
        };
        let handle = Box::new(MapHandle {
            magic: MAP_HANDLE_MAGIC,
            map_type: spec.map_type,
            fd,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
        });
        Ok(Map { spec, map_type, fd, ncpus, handle, frozen: Default::default(), kind })
    }

    /// The creation attributes.
    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    /// The map type.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// The fd in its registry.
    pub fn fd(&self) -> u32 {
        self.fd
    }

    /// Number of CPU slots of per-CPU maps.
    pub fn ncpus(&self) -> u32 {
        self.ncpus
    }

    /// Address of the handle generated code holds (`env.maps[i]`).
    pub fn handle_addr(&self) -> u64 {
        &*self.handle as *const MapHandle as u64
    }

    /// The handle as the pointer `env.maps[i]` holds.
    pub fn handle_ptr(&self) -> *mut std::ffi::c_void {
        (&*self.handle as *const MapHandle).cast_mut().cast()
    }

    /// Value 0 of a plain array as the pointer `env.map_values[i]` holds; null for other maps.
    pub fn values_ptr(&self) -> *mut u8 {
        match &self.kind {
            Kind::Array(a) if !a.percpu() => a.arena().as_mut_ptr(),
            _ => std::ptr::null_mut(),
        }
    }

    /// Size of a value buffer on the host side: per-CPU maps carry `round_up(value_size, 8)` per CPU, as
    /// the kernel's syscall does.
    pub fn host_value_size(&self) -> usize {
        if self.map_type.is_percpu() {
            round8(self.spec.value_size as usize) * self.ncpus as usize
        } else {
            self.spec.value_size as usize
        }
    }

    /// Address of value 0 for plain arrays (global data sections), for `env.map_values`.
    pub fn values_base(&self) -> Option<u64> {
        match &self.kind {
            Kind::Array(a) if !a.percpu() => Some(a.value_addr(0, 0)),
            _ => None,
        }
    }

    /// Memory programs may touch: value storage (writable unless `BPF_F_RDONLY_PROG`) and key storage
    /// (read-only; `for_each_map_elem` callbacks receive key pointers).
    pub fn regions(&self) -> Vec<Region> {
        let w = self.spec.flags & BPF_F_RDONLY_PROG == 0;
        match &self.kind {
            Kind::Array(a) => vec![a.arena().region(w), a.keys().region(false)],
            Kind::Hash(h) => vec![h.values().region(w), h.keys().region(false)],
            Kind::Lpm(l) => vec![l.values().region(w)],
            Kind::Ring(r) => vec![r.arena().region(true)],
            Kind::Fd(_) | Kind::Perf(_) | Kind::Queue(_) | Kind::Bloom(_) | Kind::Stack(_) => vec![],
        }
    }

    fn unsupported(&self, op: &'static str) -> MapError {
        MapError::NotSupported { op, map_type: self.map_type.name() }
    }

    fn check_key(&self, key: &[u8]) -> MapResult<()> {
        if key.len() != self.spec.key_size as usize {
            return Err(MapError::Invalid { what: "key size" });
        }
        Ok(())
    }

    // ---- program side (helpers) ----

    /// `bpf_map_lookup_elem` from a program running on CPU slot `cpu`.
    pub fn prog_lookup(&self, key: &[u8], cpu: u32) -> Option<Found> {
        match &self.kind {
            Kind::Array(a) => a.lookup_addr(key, cpu).map(Found::Value),
            Kind::Fd(f) => f.lookup_inner(key).map(Found::Map),
            Kind::Hash(h) => h.prog_lookup(key, cpu),
            Kind::Lpm(l) => l.lookup_addr(key).map(Found::Value),
            Kind::Perf(_) | Kind::Queue(_) | Kind::Ring(_) | Kind::Bloom(_) | Kind::Stack(_) => None,
        }
    }

    /// `bpf_map_update_elem` from a program: per-CPU maps update only this CPU's value.
    pub fn prog_update(&self, key: &[u8], value: &[u8], flags: u64, cpu: u32) -> MapResult<()> {
        match &self.kind {
            Kind::Array(a) => a.update(key, value, flags, Some(cpu)),
            Kind::Hash(h) => h.update(key, value, flags, Some(cpu)),
            Kind::Lpm(l) => l.update(key, value, flags),
            // The verifier refuses program updates of fd maps; a raw program gets the kernel's -EINVAL… but
            // there is no program-side path, so report it as unsupported.
            Kind::Fd(_) | Kind::Perf(_) | Kind::Stack(_) => Err(self.unsupported("update from a program")),
            // The kernel's queue, stack and bloom filter `map_update_elem` refuse: programs push.
            Kind::Queue(_) | Kind::Bloom(_) => Err(MapError::Invalid { what: "update on a keyless map" }),
            Kind::Ring(_) => Err(self.unsupported("update")),
        }
    }

    /// `bpf_map_delete_elem` (both sides).
    pub fn delete(&self, key: &[u8]) -> MapResult<()> {
        self.check_key(key)?;
        match &self.kind {
            Kind::Array(_) => Err(MapError::Invalid { what: "array elements cannot be deleted" }),
            Kind::Fd(f) => f.delete(key),
            Kind::Perf(p) => p.delete(key),
            Kind::Stack(st) => st.delete(key),
            Kind::Hash(h) => h.delete(key),
            Kind::Lpm(l) => l.delete(key),
            Kind::Queue(_) => Err(MapError::Invalid { what: "delete on queue/stack" }),
            Kind::Bloom(_) => Err(MapError::OpNotSupported { op: "delete on a bloom filter" }),
            Kind::Ring(_) => Err(self.unsupported("delete")),
        }
    }

    /// `bpf_map_push_elem`.
    pub fn push(&self, value: &[u8], flags: u64) -> MapResult<()> {
        match &self.kind {
            Kind::Queue(q) => q.push(value, flags),
            Kind::Bloom(b) => b.push(value, flags),
            _ => Err(self.unsupported("push")),
        }
    }

    /// `bpf_map_pop_elem`.
    pub fn pop(&self) -> MapResult<Vec<u8>> {
        match &self.kind {
            Kind::Queue(q) => q.pop(true),
            _ => Err(self.unsupported("pop")),
        }
    }

    /// `bpf_map_peek_elem` (bloom filter: membership test, -ENOENT when absent).
    pub fn peek(&self, value: &[u8]) -> MapResult<Vec<u8>> {
        match &self.kind {
            Kind::Queue(q) => q.pop(false),
            Kind::Bloom(b) => b.peek(value).map(|_| Vec::new()),
            _ => Err(self.unsupported("peek")),
        }
    }

    // ---- host side (the bpf() syscall's view) ----

    /// `BPF_MAP_FREEZE`: from now on the host may not update or delete (programs still may, unless the map
    /// is `BPF_F_RDONLY_PROG`). -EPERM when already frozen, as the kernel says.
    pub fn freeze(&self) -> MapResult<()> {
        if self.frozen.swap(true, std::sync::atomic::Ordering::AcqRel) {
            // A frozen map has lost write permission, so the kernel refuses a second freeze with -EPERM.
            return Err(MapError::Frozen);
        }
        Ok(())
    }

    /// Whether [`Map::freeze`] was called.
    pub fn is_frozen(&self) -> bool {
        self.frozen.load(std::sync::atomic::Ordering::Acquire)
    }

    fn check_writable(&self) -> MapResult<()> {
        if self.is_frozen() { Err(MapError::Frozen) } else { Ok(()) }
    }

    /// `BPF_MAP_LOOKUP_ELEM`: the value (all CPUs for per-CPU maps; the inner map's fd for map-in-map, the
    /// program id for prog arrays; queue/stack: peek).
    pub fn lookup(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        if let Kind::Queue(q) = &self.kind {
            return q.pop(false);
        }
        if let Kind::Bloom(b) = &self.kind {
            return b.peek(key).map(|_| Vec::new());
        }
        self.check_key(key)?;
        match &self.kind {
            Kind::Array(a) => a.lookup(key),
            Kind::Fd(f) => f.lookup(key),
            Kind::Perf(_) => Err(self.unsupported("lookup")),
            Kind::Stack(st) => st.lookup(key),
            Kind::Hash(h) => h.lookup(key),
            Kind::Lpm(l) => l.lookup(key),
            Kind::Ring(_) => Err(self.unsupported("lookup")),
            Kind::Queue(_) | Kind::Bloom(_) => unreachable!("handled above"),
        }
    }

    /// `BPF_MAP_UPDATE_ELEM` with a host value buffer ([`Map::host_value_size`] bytes).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> MapResult<()> {
        self.check_writable()?;
        match &self.kind {
            Kind::Queue(q) => return q.push(value, flags),
            Kind::Bloom(b) => return b.push(value, flags),
            _ => {}
        }
        self.check_key(key)?;
        if value.len() != self.host_value_size() {
            return Err(MapError::Invalid { what: "value size" });
        }
        if flags & BPF_F_LOCK != 0 && self.spec.spin_lock_off.is_none() {
            return Err(MapError::Invalid { what: "BPF_F_LOCK on a map without bpf_spin_lock" });
        }
        match &self.kind {
            Kind::Array(a) => a.update(key, value, flags, None),
            Kind::Fd(f) => f.update(key, value, flags),
            Kind::Perf(p) => p.update(key, value, flags),
            Kind::Stack(_) => Err(MapError::Invalid { what: "stack traces are written by bpf_get_stackid" }),
            Kind::Hash(h) => h.update(key, value, flags, None),
            Kind::Lpm(l) => l.update(key, value, flags),
            Kind::Ring(_) => Err(self.unsupported("update")),
            Kind::Queue(_) | Kind::Bloom(_) => unreachable!("handled above"),
        }
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` (queue/stack: pop; hash maps: lookup then delete).
    pub fn lookup_and_delete(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        self.check_writable()?;
        match &self.kind {
            Kind::Queue(q) => q.pop(true),
            Kind::Hash(h) => {
                self.check_key(key)?;
                h.lookup_and_delete(key)
            }
            _ => Err(self.unsupported("lookup_and_delete")),
        }
    }

    /// `BPF_MAP_GET_NEXT_KEY`: the key after `key`, or the first key when `key` is `None` or absent.
    pub fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        if let Some(k) = key
            && !matches!(self.kind, Kind::Queue(_) | Kind::Bloom(_) | Kind::Ring(_))
        {
            self.check_key(k)?;
        }
        match &self.kind {
            Kind::Array(a) => a.get_next_key(key),
            Kind::Fd(f) => f.get_next_key(key),
            Kind::Perf(p) => p.get_next_key(key),
            Kind::Stack(st) => st.get_next_key(key),
            Kind::Hash(h) => h.get_next_key(key),
            Kind::Lpm(l) => l.get_next_key(key),
            Kind::Queue(_) | Kind::Bloom(_) => Err(MapError::Invalid { what: "get_next_key on queue/stack/bloom" }),
            Kind::Ring(_) => Err(self.unsupported("get_next_key")),
        }
    }

    /// Every (key, host value) pair in `get_next_key` order.
    pub fn iterate(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        match &self.kind {
            Kind::Queue(q) => q.snapshot().into_iter().map(|v| (Vec::new(), v)).collect(),
            Kind::Ring(_) | Kind::Bloom(_) | Kind::Perf(_) => Vec::new(),
            _ => {
                let mut out = Vec::new();
                let mut key: Option<Vec<u8>> = None;
                // Bounded walk: an entry count can never exceed max_entries, so a concurrent modification
                // cannot make this loop forever.
                for _ in 0..=self.spec.max_entries {
                    match self.get_next_key(key.as_deref()) {
                        Ok(next) => {
                            if let Ok(v) = self.lookup(&next) {
                                out.push((next.clone(), v));
                            }
                            key = Some(next);
                        }
                        Err(_) => break,
                    }
                }
                out
            }
        }
    }

    /// The ring buffer, for ringbuf helpers and consumers.
    pub fn ringbuf(&self) -> Option<&RingBuf> {
        match &self.kind {
            Kind::Ring(r) => Some(r),
            _ => None,
        }
    }

    /// The stack trace map, for `bpf_get_stackid`.
    pub fn stack_traces(&self) -> Option<&StackTraceMap> {
        match &self.kind {
            Kind::Stack(st) => Some(st),
            _ => None,
        }
    }

    /// The perf event array, for `perf_event_output` and its consumer.
    pub fn perf_events(&self) -> Option<&PerfEventArray> {
        match &self.kind {
            Kind::Perf(p) => Some(p),
            _ => None,
        }
    }

    /// Program id in slot `index` of a prog array (for `bpf_tail_call`).
    pub fn prog_at(&self, index: u32) -> Option<u32> {
        match &self.kind {
            Kind::Fd(f) if self.map_type == MapType::ProgArray => f.prog_at(index),
            _ => None,
        }
    }

    /// The arena word holding a `bpf_spin_lock` at `addr`, when `addr` is inside this map's values.
    pub fn lock_arena(&self, addr: u64) -> Option<(&Arena, usize)> {
        let arena = match &self.kind {
            Kind::Array(a) => a.arena(),
            Kind::Hash(h) => h.values(),
            Kind::Lpm(l) => l.values(),
            _ => return None,
        };
        arena.offset_of(addr).map(|off| (arena, off))
    }

    /// Elements in `get_next_key` order as (key address, value address for CPU slot `cpu`), for
    /// `bpf_for_each_map_elem` (array keys live in a read-only index arena, hash keys in the key arena).
    pub fn elem_addrs(&self, cpu: u32) -> Vec<(u64, u64)> {
        match &self.kind {
            Kind::Array(a) => (0..self.spec.max_entries).map(|i| (a.key_addr(i), a.value_addr(i, cpu))).collect(),
            Kind::Hash(h) if h.inner.is_none() => h.elem_addrs(cpu),
            _ => Vec::new(),
        }
    }

    /// Whether `addr` is inside this map's value storage (ring buffer: its data area).
    pub fn contains_value(&self, addr: u64) -> bool {
        match &self.kind {
            Kind::Array(a) => a.arena().offset_of(addr).is_some(),
            Kind::Hash(h) => h.values().offset_of(addr).is_some(),
            Kind::Lpm(l) => l.values().offset_of(addr).is_some(),
            Kind::Ring(r) => r.arena().offset_of(addr).is_some(),
            _ => false,
        }
    }
}

/// Formats one (key, value) pair for [`Map::dump`].
pub type ElemFormatter = dyn Fn(&[u8], &[u8]) -> String;

/// Reads a u32 key (array index).
pub(crate) fn key_u32(key: &[u8]) -> u32 {
    u32::from_le_bytes(key[..4].try_into().expect("4-byte key checked by caller"))
}

/// Checks the update flags the hash and array families accept.
pub(crate) fn check_update_flags(flags: u64) -> MapResult<()> {
    if flags & !BPF_F_LOCK > BPF_EXIST {
        return Err(MapError::Invalid { what: "update flags" });
    }
    Ok(())
}
