//! Array-like maps (kernel/bpf/arraymap.c): `array`, `percpu_array`, and the fd arrays `prog_array`,
//! `array_of_maps` and `perf_event_array`.
//!
//! Plain arrays are one arena of `max_entries × round_up(value_size, 8)` bytes (× ncpus for per-CPU,
//! element-major: all CPUs of element 0, then element 1, ...). Every element always exists: lookups never
//! lock, updates with `BPF_NOEXIST` fail with -EEXIST, deletes with -EINVAL. Fd arrays hold references
//! (program ids, inner maps, open perf channels) behind a mutex; only `BPF_ANY` updates are allowed.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{Arena, BPF_F_LOCK, BPF_NOEXIST, Map, MapError, MapResult, MapSpec, check_update_flags, key_u32, round8};

/// The kernel's `KMALLOC_MAX_SIZE` on x86-64 (order-10 pages): the largest value an array may have.
pub(crate) const KMALLOC_MAX_SIZE: usize = 4 << 20;
/// The kernel's `PCPU_MIN_UNIT_SIZE`: the largest per-CPU value.
pub(crate) const PCPU_MIN_UNIT_SIZE: usize = 32 << 10;
/// Refuse arenas above this size with -ENOMEM instead of aborting on allocation failure.
pub(crate) const MAX_ARENA: u64 = 1 << 32;

/// Checks the arena size and reports -ENOMEM for absurd ones.
pub(crate) fn arena_bytes(count: u64, stride: u64) -> MapResult<usize> {
    let bytes = count.checked_mul(stride).ok_or(MapError::NoMem { bytes: u64::MAX })?;
    if bytes > MAX_ARENA {
        return Err(MapError::NoMem { bytes });
    }
    Ok(bytes as usize)
}

/// Copies a value into the arena, leaving the `bpf_spin_lock` word alone as the kernel's
/// `copy_map_value` does; with `locked`, holds that lock during the copy (`BPF_F_LOCK`).
pub(crate) fn copy_value_in(arena: &Arena, off: usize, value: &[u8], lock_off: Option<u32>, locked: bool) {
    match lock_off {
        Some(l) if (l as usize) + 4 <= value.len() => {
            let l = l as usize;
            if locked {
                spin_lock(arena, off + l);
            }
            arena.write(off, &value[..l]);
            arena.write(off + l + 4, &value[l + 4..]);
            if locked {
                spin_unlock(arena, off + l);
            }
        }
        _ => arena.write(off, value),
    }
}

/// Takes the `bpf_spin_lock` (a u32, 0 = free) at byte `off`.
pub(crate) fn spin_lock(arena: &Arena, off: usize) {
    while arena.cas_u32(off, 0, 1) != 0 {
        std::hint::spin_loop();
    }
}

/// Releases the `bpf_spin_lock` at byte `off`.
pub(crate) fn spin_unlock(arena: &Arena, off: usize) {
    arena.cas_u32(off, 1, 0);
}

/// `array` and `percpu_array`.
#[derive(Debug)]
pub struct ArrayMap {
    arena: Arena,
    /// The indices 0..max_entries as u32s: the key pointers `bpf_for_each_map_elem` hands to callbacks.
    keys: Arena,
    max_entries: u32,
    value_size: usize,
    stride: usize,
    percpu: bool,
    ncpus: u32,
    lock_off: Option<u32>,
}

impl ArrayMap {
    pub(crate) fn new(spec: &MapSpec, percpu: bool, ncpus: u32) -> MapResult<ArrayMap> {
        if spec.max_entries == 0 || spec.key_size != 4 || spec.value_size == 0 {
            return Err(MapError::Invalid { what: "array needs key_size 4, value_size > 0, max_entries > 0" });
        }
        let value_size = spec.value_size as usize;
        if percpu && value_size > PCPU_MIN_UNIT_SIZE || value_size > KMALLOC_MAX_SIZE {
            return Err(MapError::TooBig { what: "value_size" });
        }
        let stride = round8(value_size);
        let per = if percpu { ncpus as u64 } else { 1 };
        let bytes = arena_bytes(spec.max_entries as u64 * per, stride as u64)?;
        let keys = Arena::new(arena_bytes(spec.max_entries as u64, 4)?);
        for i in 0..spec.max_entries {
            keys.write(i as usize * 4, &i.to_le_bytes());
        }
        Ok(ArrayMap {
            arena: Arena::new(bytes),
            keys,
            max_entries: spec.max_entries,
            value_size,
            stride,
            percpu,
            ncpus,
            lock_off: spec.spin_lock_off,
        })
    }

    pub(crate) fn percpu(&self) -> bool {
        self.percpu
    }

    pub(crate) fn arena(&self) -> &Arena {
        &self.arena
    }

    pub(crate) fn keys(&self) -> &Arena {
        &self.keys
    }

    pub(crate) fn key_addr(&self, idx: u32) -> u64 {
        self.keys.addr(idx as usize * 4)
    }

    fn off(&self, idx: u32, cpu: u32) -> usize {
        if self.percpu {
            (idx as usize * self.ncpus as usize + (cpu % self.ncpus) as usize) * self.stride
        } else {
            idx as usize * self.stride
        }
    }

    pub(crate) fn value_addr(&self, idx: u32, cpu: u32) -> u64 {
        self.arena.addr(self.off(idx, cpu))
    }

    pub(crate) fn lookup_addr(&self, key: &[u8], cpu: u32) -> Option<u64> {
        let idx = key_u32(key);
        (idx < self.max_entries).then(|| self.value_addr(idx, cpu))
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        let idx = key_u32(key);
        if idx >= self.max_entries {
            return Err(MapError::NotFound);
        }
        if self.percpu {
            let mut out = vec![0; self.stride * self.ncpus as usize];
            for cpu in 0..self.ncpus {
                self.arena.read(self.off(idx, cpu), &mut out[cpu as usize * self.stride..][..self.stride]);
            }
            Ok(out)
        } else {
            Ok(self.arena.read_vec(self.off(idx, 0), self.value_size))
        }
    }

    /// `cpu` is the running program's CPU slot; `None` is the host side (per-CPU: every CPU's value).
    pub(crate) fn update(&self, key: &[u8], value: &[u8], flags: u64, cpu: Option<u32>) -> MapResult<()> {
        check_update_flags(flags)?;
        let idx = key_u32(key);
        if idx >= self.max_entries {
            return Err(MapError::TooBig { what: "array index" });
        }
        if flags & BPF_NOEXIST != 0 {
            return Err(MapError::Exists);
        }
        let locked = flags & BPF_F_LOCK != 0;
        if locked && (self.lock_off.is_none() || self.percpu) {
            return Err(MapError::Invalid { what: "BPF_F_LOCK on a map without bpf_spin_lock" });
        }
        match (self.percpu, cpu) {
            (true, None) => {
                for c in 0..self.ncpus {
                    let v = &value[c as usize * self.stride..][..self.stride];
                    self.arena.write(self.off(idx, c), v);
                }
            }
            (true, Some(c)) => self.arena.write(self.off(idx, c), &value[..self.value_size]),
            (false, _) => {
                copy_value_in(&self.arena, self.off(idx, 0), &value[..self.value_size], self.lock_off, locked)
            }
        }
        Ok(())
    }

    pub(crate) fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        next_index(self.max_entries, key)
    }
}

/// The kernel's array `get_next_key`: index 0 after an absent or out-of-range key, -ENOENT after the last.
fn next_index(max_entries: u32, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
    let next = match key.map(key_u32) {
        Some(i) if i < max_entries => {
            if i == max_entries - 1 {
                return Err(MapError::NotFound);
            }
            i + 1
        }
        _ => 0,
    };
    Ok(next.to_le_bytes().to_vec())
}

/// One slot of an fd array.
#[derive(Clone, Debug)]
pub(crate) enum FdEntry {
    /// A program id (prog arrays).
    Prog(u32),
    /// An inner map (array of maps).
    Map(Arc<Map>),
}

/// `prog_array` and `array_of_maps`: slots referencing programs or maps.
#[derive(Debug)]
pub struct FdArray {
    slots: Mutex<Vec<Option<FdEntry>>>,
    max_entries: u32,
    /// Inner map template (array of maps).
    pub(crate) inner: Option<Arc<Map>>,
}

/// The checks of the kernel's `fd_array_map_alloc_check`.
fn check_fd_array(spec: &MapSpec) -> MapResult<()> {
    if spec.max_entries == 0 || spec.key_size != 4 || spec.value_size != 4 {
        return Err(MapError::Invalid { what: "fd array needs key_size 4, value_size 4, max_entries > 0" });
    }
    Ok(())
}

impl FdArray {
    pub(crate) fn new(spec: &MapSpec, inner: Option<Arc<Map>>) -> MapResult<FdArray> {
        check_fd_array(spec)?;
        if spec.map_type == super::MapType::ArrayOfMaps as u32 && inner.is_none() {
            return Err(MapError::Invalid { what: "array_of_maps needs an inner map" });
        }
        Ok(FdArray { slots: Mutex::new(vec![None; spec.max_entries as usize]), max_entries: spec.max_entries, inner })
    }

    fn slots(&self) -> std::sync::MutexGuard<'_, Vec<Option<FdEntry>>> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lookup_inner(&self, key: &[u8]) -> Option<u64> {
        match self.slots().get(key_u32(key) as usize)? {
            Some(FdEntry::Map(m)) => Some(m.handle_addr()),
            _ => None,
        }
    }

    pub(crate) fn prog_at(&self, index: u32) -> Option<u32> {
        match self.slots().get(index as usize)? {
            Some(FdEntry::Prog(p)) => Some(*p),
            _ => None,
        }
    }

    /// Host lookup: the program id or the inner map's fd.
    pub(crate) fn lookup(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        match self.slots().get(key_u32(key) as usize) {
            Some(Some(FdEntry::Prog(p))) => Ok(p.to_le_bytes().to_vec()),
            Some(Some(FdEntry::Map(m))) => Ok(m.fd().to_le_bytes().to_vec()),
            _ => Err(MapError::NotFound),
        }
    }

    /// Host update of a prog array: the value is a program id.
    pub(crate) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> MapResult<()> {
        if self.inner.is_some() {
            return Err(MapError::Invalid { what: "array_of_maps values are map fds: update through MapRegistry" });
        }
        self.set(key, flags, FdEntry::Prog(key_u32(value)))
    }

    pub(crate) fn set(&self, key: &[u8], flags: u64, entry: FdEntry) -> MapResult<()> {
        if flags != super::BPF_ANY {
            return Err(MapError::Invalid { what: "fd arrays take only BPF_ANY" });
        }
        let idx = key_u32(key);
        if idx >= self.max_entries {
            return Err(MapError::TooBig { what: "array index" });
        }
        self.slots()[idx as usize] = Some(entry);
        Ok(())
    }

    pub(crate) fn delete(&self, key: &[u8]) -> MapResult<()> {
        let idx = key_u32(key);
        if idx >= self.max_entries {
            return Err(MapError::TooBig { what: "array index" });
        }
        self.slots()[idx as usize].take().map(|_| ()).ok_or(MapError::NotFound)
    }

    pub(crate) fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        next_index(self.max_entries, key)
    }
}

/// One `bpf_perf_event_output` record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PerfSample {
    /// The array index (CPU) it was written to.
    pub cpu: u32,
    /// The raw sample bytes.
    pub data: Vec<u8>,
}

/// Bytes of unread samples a perf event array buffers before it counts further ones as lost.
pub const PERF_BUFFER_BYTES: usize = 8 << 20;

/// `perf_event_array`: per-index channels. A slot must be opened (the kernel: hold a perf event fd) before
/// `bpf_perf_event_output` to it succeeds; a runner that consumes output opens all of them with
/// [`PerfEventArray::open_all`], as libbpf's `perf_buffer__new` does.
#[derive(Debug)]
pub struct PerfEventArray {
    open: Mutex<Vec<bool>>,
    queue: Mutex<(VecDeque<PerfSample>, usize, u64)>,
    max_entries: u32,
}

impl PerfEventArray {
    pub(crate) fn new(spec: &MapSpec) -> MapResult<PerfEventArray> {
        check_fd_array(spec)?;
        Ok(PerfEventArray {
            open: Mutex::new(vec![false; spec.max_entries as usize]),
            queue: Mutex::new((VecDeque::new(), 0, 0)),
            max_entries: spec.max_entries,
        })
    }

    /// Opens every slot.
    pub fn open_all(&self) {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().for_each(|o| *o = true);
    }

    pub(crate) fn update(&self, key: &[u8], _value: &[u8], flags: u64) -> MapResult<()> {
        if flags != super::BPF_ANY {
            return Err(MapError::Invalid { what: "fd arrays take only BPF_ANY" });
        }
        let idx = key_u32(key);
        if idx >= self.max_entries {
            return Err(MapError::TooBig { what: "array index" });
        }
        self.open.lock().unwrap_or_else(|e| e.into_inner())[idx as usize] = true;
        Ok(())
    }

    pub(crate) fn delete(&self, key: &[u8]) -> MapResult<()> {
        let idx = key_u32(key);
        if idx >= self.max_entries {
            return Err(MapError::TooBig { what: "array index" });
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if !std::mem::replace(&mut open[idx as usize], false) {
            return Err(MapError::NotFound);
        }
        Ok(())
    }

    pub(crate) fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        next_index(self.max_entries, key)
    }

    /// `bpf_perf_event_output` to slot `index`: -E2BIG past the end, -ENOENT when the slot is not open.
    /// When the unread backlog is full the sample is counted as lost (the kernel's ring overwrite policy
    /// is also "drop and count").
    pub fn output(&self, index: u32, data: &[u8]) -> MapResult<()> {
        if index >= self.max_entries {
            return Err(MapError::TooBig { what: "perf event array index" });
        }
        if !self.open.lock().unwrap_or_else(|e| e.into_inner())[index as usize] {
            return Err(MapError::NotFound);
        }
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.1 + data.len() > PERF_BUFFER_BYTES {
            q.2 += 1;
            return Ok(());
        }
        q.1 += data.len();
        q.0.push_back(PerfSample { cpu: index, data: data.to_vec() });
        Ok(())
    }

    /// Takes every unread sample (in output order) and the number lost since the last call.
    pub fn drain(&self) -> (Vec<PerfSample>, u64) {
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let samples: Vec<PerfSample> = q.0.drain(..).collect();
        q.1 = 0;
        (samples, std::mem::take(&mut q.2))
    }
}
