//! The fd registry: every map of a runtime lives here under a small integer fd, the id programs' map
//! references, the host API and map-in-map values use. It is also the only way back from a
//! [`MapHandle`](super::MapHandle) address (what generated code passes to helpers) to the map, so a forged
//! or stale pointer from an unverified program is refused instead of dereferenced.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::{BPF_F_INNER_MAP, Kind, Map, MapError, MapResult, MapSpec, MapType, key_u32};
use crate::abi::Region;

/// Number of possible CPUs as the kernel counts them for per-CPU map values (highest id in
/// `/sys/devices/system/cpu/possible` plus one, as libbpf does); the thread count when that file is absent.
pub fn possible_cpus() -> u32 {
    let parsed = std::fs::read_to_string("/sys/devices/system/cpu/possible").ok().and_then(|s| {
        s.trim()
            .split(',')
            .filter_map(|part| part.rsplit('-').next().and_then(|n| n.trim().parse::<u32>().ok()))
            .max()
            .map(|m| m + 1)
    });
    parsed.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1))
}

#[derive(Debug, Default)]
struct Inner {
    by_fd: Vec<Option<Arc<Map>>>,
    /// (handle address, map), sorted by address: helpers resolve handles by binary search.
    by_handle: Vec<(u64, Arc<Map>)>,
}

/// All maps of one runtime, by fd (fds start at 1; 0 is never a map).
#[derive(Debug)]
pub struct MapRegistry {
    ncpus: u32,
    inner: RwLock<Inner>,
}

impl Default for MapRegistry {
    fn default() -> Self {
        MapRegistry::new()
    }
}

impl MapRegistry {
    /// A registry whose per-CPU maps have [`possible_cpus`] slots.
    pub fn new() -> MapRegistry {
        MapRegistry::with_cpus(possible_cpus())
    }

    /// A registry whose per-CPU maps have `ncpus` slots (at least 1).
    pub fn with_cpus(ncpus: u32) -> MapRegistry {
        MapRegistry { ncpus: ncpus.max(1), inner: RwLock::new(Inner::default()) }
    }

    /// Number of CPU slots.
    pub fn ncpus(&self) -> u32 {
        self.ncpus
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// `BPF_MAP_CREATE`: creates a map and returns its fd.
    pub fn create(&self, spec: MapSpec) -> MapResult<u32> {
        let inner = match MapType::from_u32(spec.map_type) {
            Some(MapType::ArrayOfMaps | MapType::HashOfMaps) => {
                let fd = spec.inner_map_fd.ok_or(MapError::Invalid { what: "map-in-map needs inner_map_fd" })?;
                let tmpl = self.get(fd)?;
                if matches!(tmpl.map_type(), MapType::ArrayOfMaps | MapType::HashOfMaps) {
                    return Err(MapError::NotSupported { op: "nested map-in-map", map_type: tmpl.map_type().name() });
                }
                Some(tmpl)
            }
            _ => None,
        };
        let mut w = self.write();
        let fd = w.by_fd.iter().position(Option::is_none).unwrap_or(w.by_fd.len()) as u32 + 1;
        let map = Arc::new(Map::create(spec, fd, self.ncpus, inner)?);
        if fd as usize > w.by_fd.len() {
            w.by_fd.push(None);
        }
        w.by_fd[fd as usize - 1] = Some(map.clone());
        let addr = map.handle_addr();
        let pos = w.by_handle.partition_point(|(a, _)| *a < addr);
        w.by_handle.insert(pos, (addr, map));
        Ok(fd)
    }

    /// The map with this fd (-EBADF when there is none).
    pub fn get(&self, fd: u32) -> MapResult<Arc<Map>> {
        let r = self.read();
        fd.checked_sub(1).and_then(|i| r.by_fd.get(i as usize)).and_then(|m| m.clone()).ok_or(MapError::BadFd { fd })
    }

    /// The map whose handle is at `addr` (what `env.maps[i]` holds), if any; runs `f` on it without cloning
    /// the `Arc` (the helper fast path).
    pub fn with_handle<R>(&self, addr: u64, f: impl FnOnce(&Map) -> R) -> Option<R> {
        let r = self.read();
        find_handle(&r.by_handle, addr).map(|m| f(m))
    }

    /// The map whose handle is at `addr`, if any.
    pub fn by_handle(&self, addr: u64) -> Option<Arc<Map>> {
        find_handle(&self.read().by_handle, addr).cloned()
    }

    /// The map whose value storage contains `addr` (spin locks, ring buffer samples).
    pub fn map_containing(&self, addr: u64) -> Option<Arc<Map>> {
        self.read().by_fd.iter().flatten().find(|m| m.contains_value(addr)).cloned()
    }

    /// Closes an fd. Inner maps referenced by a map-in-map stay alive through that reference.
    pub fn close(&self, fd: u32) -> MapResult<()> {
        let mut w = self.write();
        let slot = fd.checked_sub(1).and_then(|i| w.by_fd.get_mut(i as usize)).ok_or(MapError::BadFd { fd })?;
        let map = slot.take().ok_or(MapError::BadFd { fd })?;
        let addr = map.handle_addr();
        w.by_handle.retain(|(a, _)| *a != addr);
        Ok(())
    }

    /// Every open fd, ascending.
    pub fn fds(&self) -> Vec<u32> {
        let r = self.read();
        (0..r.by_fd.len()).filter(|&i| r.by_fd[i].is_some()).map(|i| i as u32 + 1).collect()
    }

    /// The open maps `keep` selects, with their fds, ascending. Allocates nothing when it selects none, so
    /// the per-event drains of output maps cost one read lock for objects that have none.
    pub fn select(&self, keep: impl Fn(&Map) -> bool) -> Vec<(u32, Arc<Map>)> {
        let r = self.read();
        r.by_fd
            .iter()
            .enumerate()
            .filter_map(|(i, m)| m.as_ref().filter(|m| keep(m)).map(|m| (i as u32 + 1, Arc::clone(m))))
            .collect()
    }

    /// The binding tables for an object whose map *i* is `fds[i]`: (`env.maps`, `env.map_values`).
    pub fn binding(&self, fds: &[u32]) -> MapResult<(Vec<*mut std::ffi::c_void>, Vec<*mut u8>)> {
        let maps = fds.iter().map(|&fd| self.get(fd)).collect::<MapResult<Vec<_>>>()?;
        Ok((maps.iter().map(|m| m.handle_ptr()).collect(), maps.iter().map(|m| m.values_ptr()).collect()))
    }

    /// The memory regions of every map (for `env.regions`).
    pub fn regions(&self) -> Vec<Region> {
        let r = self.read();
        r.by_fd.iter().flatten().flat_map(|m| m.regions()).collect()
    }

    /// `BPF_MAP_LOOKUP_ELEM`.
    pub fn lookup(&self, fd: u32, key: &[u8]) -> MapResult<Vec<u8>> {
        self.get(fd)?.lookup(key)
    }

    /// `BPF_MAP_DELETE_ELEM` (the host side: refused on a frozen map).
    pub fn delete(&self, fd: u32, key: &[u8]) -> MapResult<()> {
        let m = self.get(fd)?;
        if m.is_frozen() {
            return Err(MapError::Frozen);
        }
        m.delete(key)
    }

    /// `BPF_MAP_FREEZE`.
    pub fn freeze(&self, fd: u32) -> MapResult<()> {
        self.get(fd)?.freeze()
    }

    /// `BPF_MAP_GET_NEXT_KEY`.
    pub fn get_next_key(&self, fd: u32, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        self.get(fd)?.get_next_key(key)
    }

    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`.
    pub fn lookup_and_delete(&self, fd: u32, key: &[u8]) -> MapResult<Vec<u8>> {
        self.get(fd)?.lookup_and_delete(key)
    }

    /// `BPF_MAP_UPDATE_ELEM`. For map-in-map the value is an inner map fd, checked against the template as
    /// the kernel's `bpf_map_meta_equal` does (type, key/value size, flags, and max_entries unless the
    /// template has `BPF_F_INNER_MAP`).
    pub fn update(&self, fd: u32, key: &[u8], value: &[u8], flags: u64) -> MapResult<()> {
        let map = self.get(fd)?;
        if map.is_frozen() {
            return Err(MapError::Frozen);
        }
        let tmpl = match &map.kind {
            Kind::Fd(f) => f.inner.clone(),
            Kind::Hash(h) => h.inner.clone(),
            _ => None,
        };
        let Some(tmpl) = tmpl else { return map.update(key, value, flags) };
        if key.len() != map.spec().key_size as usize || value.len() != 4 {
            return Err(MapError::Invalid { what: "key or value size" });
        }
        let inner = self.get(key_u32(value))?;
        let (a, b) = (tmpl.spec(), inner.spec());
        if a.map_type != b.map_type
            || a.key_size != b.key_size
            || a.value_size != b.value_size
            || a.flags != b.flags
            || (a.flags & BPF_F_INNER_MAP == 0 && a.max_entries != b.max_entries)
        {
            return Err(MapError::Invalid { what: "inner map does not match the template" });
        }
        match &map.kind {
            Kind::Fd(f) => f.set(key, flags, super::array::FdEntry::Map(inner)),
            Kind::Hash(h) => h.update_inner(key, value, flags, inner),
            _ => unreachable!("only map-in-map kinds have a template"),
        }
    }
}

fn find_handle(v: &[(u64, Arc<Map>)], addr: u64) -> Option<&Arc<Map>> {
    v.binary_search_by_key(&addr, |(a, _)| *a).ok().map(|i| &v[i].1)
}
