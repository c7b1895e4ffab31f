//! Maps: `BPF_MAP_CREATE`, the element commands, `BPF_MAP_FREEZE`, map info and `BPF_MAP_GET_FD_BY_ID`.
//!
//! The kernel reads `key_size` bytes through the key pointer and writes the whole value (for per-CPU
//! maps: one 8-byte-aligned slot per *possible* CPU) through the value pointer. Handing it a shorter
//! buffer would let it write past our allocation, so every element command goes through [`MapFd`],
//! which knows the map's sizes from the kernel itself, and checks the caller's slices first.

use super::attr::{GetIdAttr, MapCreateAttr, MapElemAttr, RawMapInfo};
use super::*;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::OnceLock;

/// Arguments of [`map_create`]. Fields not given default to 0 / empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapCreate<'a> {
    /// `enum bpf_map_type`, e.g. [`BPF_MAP_TYPE_HASH`].
    pub map_type: u32,
    /// Key size in bytes (0 for queue, stack, ringbuf, bloom filter).
    pub key_size: u32,
    /// Value size in bytes (4 for map-in-map and prog arrays: an fd in, an id out).
    pub value_size: u32,
    /// Maximum entries (ringbuf: the buffer size, a power-of-two multiple of the page size).
    pub max_entries: u32,
    /// `map_flags`, e.g. [`BPF_F_NO_PREALLOC`].
    pub flags: u32,
    /// Map name, at most 15 bytes of `[A-Za-z0-9_.]`.
    pub name: &'a str,
    /// For map-in-map types: a template inner map.
    pub inner_map_fd: Option<BorrowedFd<'a>>,
    /// `numa_node` (used with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// BTF object describing key and value.
    pub btf_fd: Option<BorrowedFd<'a>>,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// BTF type id of a kernel struct stored as the value (struct_ops).
    pub btf_vmlinux_value_type_id: u32,
    /// `map_extra` (bloom filter: number of hash functions in the low 4 bits).
    pub map_extra: u64,
}

/// What the kernel reports about a map (`struct bpf_map_info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// `enum bpf_map_type`.
    pub map_type: u32,
    /// Kernel-wide map id.
    pub id: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (of one CPU's slot for per-CPU maps).
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub map_flags: u32,
    /// Name given at creation.
    pub name: String,
    /// BTF object id (0: none).
    pub btf_id: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// `map_extra`.
    pub map_extra: u64,
}

impl MapInfo {
    /// Whether values hold one slot per possible CPU as seen from user space.
    pub fn is_percpu(&self) -> bool {
        // PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE.
        matches!(self.map_type, 5 | 6 | 10 | 21)
    }
}

/// An open map with the sizes the kernel will use for its keys and values.
#[derive(Debug)]
pub struct MapFd {
    fd: OwnedFd,
    info: MapInfo,
    value_len: usize,
}

impl MapFd {
    /// Wraps a map fd, asking the kernel for its description.
    pub fn from_fd(fd: OwnedFd) -> Result<MapFd, SysError> {
        let info = map_info(fd.as_fd())?;
        let value_len = if info.is_percpu() {
            let cpus = cpus().map_err(|reason| SysError::Invalid { cmd: Cmd::ObjGetInfoByFd, reason })?;
            (info.value_size as usize).div_ceil(8) * 8 * cpus
        } else {
            info.value_size as usize
        };
        Ok(MapFd { fd, info, value_len })
    }

    /// The description the kernel gave when the map was opened.
    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// Bytes of a value as user space reads and writes it (all CPU slots for per-CPU maps).
    pub fn value_len(&self) -> usize {
        self.value_len
    }

    /// Key size in bytes.
    pub fn key_size(&self) -> usize {
        self.info.key_size as usize
    }

    /// The fd, e.g. for a `BPF_PSEUDO_MAP_FD` load or as an inner map.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Gives up the wrapper and returns the fd.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }

    fn check_key(&self, cmd: Cmd, key: &[u8]) -> Result<u64, SysError> {
        if key.len() != self.key_size() {
            return Err(SysError::Invalid {
                cmd,
                reason: format!("key of {} bytes for a map with key_size {}", key.len(), self.key_size()),
            });
        }
        Ok(ptr_or_null(key))
    }

    fn check_value_len(&self, cmd: Cmd, len: usize) -> Result<(), SysError> {
        if len != self.value_len {
            return Err(SysError::Invalid {
                cmd,
                reason: format!("value of {len} bytes for a map whose values are {} bytes", self.value_len),
            });
        }
        Ok(())
    }
}

impl AsFd for MapFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

fn cpus() -> Result<usize, String> {
    static CPUS: OnceLock<Result<usize, String>> = OnceLock::new();
    CPUS.get_or_init(possible_cpus).clone()
}

/// Creates a map.
pub fn map_create(args: &MapCreate<'_>) -> Result<MapFd, SysError> {
    let mut attr = MapCreateAttr {
        map_type: args.map_type,
        key_size: args.key_size,
        value_size: args.value_size,
        max_entries: args.max_entries,
        map_flags: args.flags,
        inner_map_fd: args.inner_map_fd.map_or(0, fd_u32),
        numa_node: args.numa_node,
        map_name: obj_name(Cmd::MapCreate, args.name)?,
        btf_fd: args.btf_fd.map_or(0, fd_u32),
        btf_key_type_id: args.btf_key_type_id,
        btf_value_type_id: args.btf_value_type_id,
        btf_vmlinux_value_type_id: args.btf_vmlinux_value_type_id,
        map_extra: args.map_extra,
        ..MapCreateAttr::default()
    };
    // SAFETY: the attr holds no pointers (fds are plain integers).
    let fd = unsafe { sys_bpf(Cmd::MapCreate, &mut attr) }?;
    MapFd::from_fd(owned_fd(fd))
}

/// Issues an element command; `key` and `value` were length-checked by the caller.
///
/// # Safety
/// `key` must be NULL or point to `key_size` readable bytes; `value` must be NULL or point to
/// `value_len` bytes, writable if the command writes the value (lookup, pop, next key).
unsafe fn elem(map: &MapFd, cmd: Cmd, key: u64, value: u64, flags: u64) -> Result<(), SysError> {
    let mut attr = MapElemAttr { map_fd: fd_u32(map.fd()), key, value, flags, ..MapElemAttr::default() };
    // SAFETY: forwarded from this function's contract.
    unsafe { sys_bpf(cmd, &mut attr) }?;
    Ok(())
}

/// Looks up `key`; returns the value (all CPU slots for per-CPU maps). Missing keys give `ENOENT`.
/// For queue and stack maps (key size 0) this peeks.
pub fn map_lookup(map: &MapFd, key: &[u8], flags: u64) -> Result<Vec<u8>, SysError> {
    let mut value = vec![0u8; map.value_len()];
    map_lookup_into(map, key, &mut value, flags)?;
    Ok(value)
}

/// Looks up `key` into `value` (which must be [`MapFd::value_len`] bytes). The buffer is also an
/// input for maps that read it (a bloom filter checks whether `value` is present).
pub fn map_lookup_into(map: &MapFd, key: &[u8], value: &mut [u8], flags: u64) -> Result<(), SysError> {
    let cmd = Cmd::MapLookupElem;
    let k = map.check_key(cmd, key)?;
    map.check_value_len(cmd, value.len())?;
    let v = mut_ptr_or_null(value);
    // SAFETY: key and value lengths were checked against the kernel's own sizes for this map; `value`
    // is exclusively borrowed, so the kernel may write it.
    unsafe { elem(map, cmd, k, v, flags) }
}

/// Inserts or replaces `key` with `value` under `flags` ([`BPF_ANY`], [`BPF_NOEXIST`], [`BPF_EXIST`],
/// optionally `| BPF_F_LOCK`). Queue, stack and bloom filter maps take an empty key.
pub fn map_update(map: &MapFd, key: &[u8], value: &[u8], flags: u64) -> Result<(), SysError> {
    let cmd = Cmd::MapUpdateElem;
    let k = map.check_key(cmd, key)?;
    map.check_value_len(cmd, value.len())?;
    let v = ptr_or_null(value);
    // SAFETY: lengths checked; the kernel only reads key and value for this command.
    unsafe { elem(map, cmd, k, v, flags) }
}

/// Deletes `key` (`ENOENT` if missing; array maps refuse with `EINVAL`).
pub fn map_delete(map: &MapFd, key: &[u8]) -> Result<(), SysError> {
    let cmd = Cmd::MapDeleteElem;
    let k = map.check_key(cmd, key)?;
    // SAFETY: key length checked; no value pointer.
    unsafe { elem(map, cmd, k, 0, 0) }
}

/// The key after `key`, or the first key for `None`; `ENOENT` after the last key.
pub fn map_get_next_key(map: &MapFd, key: Option<&[u8]>) -> Result<Vec<u8>, SysError> {
    let cmd = Cmd::MapGetNextKey;
    let k = match key {
        Some(key) => map.check_key(cmd, key)?,
        None => 0,
    };
    let mut next = vec![0u8; map.key_size()];
    let n = mut_ptr_or_null(&mut next);
    // SAFETY: `key` (if any) has key_size bytes; `next` is key_size writable bytes we own.
    unsafe { elem(map, cmd, k, n, 0) }?;
    Ok(next)
}

/// Looks up and deletes `key` in one step; for queue and stack maps (empty key) this pops.
pub fn map_lookup_and_delete(map: &MapFd, key: &[u8]) -> Result<Vec<u8>, SysError> {
    let cmd = Cmd::MapLookupAndDeleteElem;
    let k = map.check_key(cmd, key)?;
    let mut value = vec![0u8; map.value_len()];
    let v = mut_ptr_or_null(&mut value);
    // SAFETY: key length checked; `value` is value_len writable bytes we own.
    unsafe { elem(map, cmd, k, v, 0) }?;
    Ok(value)
}

/// Makes the map read-only for user space (programs may still write unless `BPF_F_RDONLY_PROG`).
pub fn map_freeze(map: &MapFd) -> Result<(), SysError> {
    // SAFETY: no pointers.
    unsafe { elem(map, Cmd::MapFreeze, 0, 0, 0) }
}

/// Reads a map's description.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo, SysError> {
    let mut raw = RawMapInfo::default();
    prog::get_info(fd, &mut raw)?;
    Ok(MapInfo {
        map_type: raw.map_type,
        id: raw.id,
        key_size: raw.key_size,
        value_size: raw.value_size,
        max_entries: raw.max_entries,
        map_flags: raw.map_flags,
        name: c_name(&raw.name),
        btf_id: raw.btf_id,
        btf_key_type_id: raw.btf_key_type_id,
        btf_value_type_id: raw.btf_value_type_id,
        map_extra: raw.map_extra,
    })
}

/// Opens a new fd for the map with this id.
pub fn map_get_fd_by_id(id: u32) -> Result<MapFd, SysError> {
    let mut attr = GetIdAttr { id, ..GetIdAttr::default() };
    // SAFETY: the attr holds no pointers.
    let fd = unsafe { sys_bpf(Cmd::MapGetFdById, &mut attr) }?;
    MapFd::from_fd(owned_fd(fd))
}
