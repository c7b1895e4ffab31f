//! Hash maps (kernel/bpf/hashtab.c): `hash`, `percpu_hash`, `lru_hash`, `lru_percpu_hash`, `hash_of_maps`.
//!
//! Elements are preallocated like the kernel's default (`BPF_F_NO_PREALLOC` only changes the kernel's
//! allocator, not what programs see): slot *i* owns key bytes `keys[i × round8(key_size)]` and value bytes
//! `values[(i × ncpus + cpu) × round8(value_size)]`. A [`SlotTable`] maps key hashes to slots (keys are
//! compared in the key arena); a free stack hands out slots. `get_next_key` walks occupied slots in slot order, which — like the kernel's
//! bucket order — is unrelated to key order, but here it is deterministic for a given operation sequence.
//!
//! LRU maps keep the occupied slots on an intrusive doubly linked list (most recent first); a program
//! lookup or an update moves an element to the front, and an insert into a full map evicts the tail
//! instead of failing with -E2BIG.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::array::{KMALLOC_MAX_SIZE, PCPU_MIN_UNIT_SIZE, arena_bytes, copy_value_in};
use super::slot_table::{SlotTable, hash_key};
use super::{
    Arena, BPF_EXIST, BPF_F_LOCK, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_NOEXIST, Found, Map, MapError, MapResult,
    MapSpec, MapType, check_update_flags, round8,
};

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Index {
    table: SlotTable,
    used: Vec<bool>,
    free: Vec<u32>,
    prev: Vec<u32>,
    next: Vec<u32>,
    head: u32,
    tail: u32,
    inner: Vec<Option<Arc<Map>>>,
}

impl Index {
    fn unlink(&mut self, s: u32) {
        let (p, n) = (self.prev[s as usize], self.next[s as usize]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
    }

    fn push_front(&mut self, s: u32) {
        self.prev[s as usize] = NIL;
        self.next[s as usize] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = s;
        }
        self.head = s;
        if self.tail == NIL {
            self.tail = s;
        }
    }

    fn touch(&mut self, s: u32) {
        if self.head != s {
            self.unlink(s);
            self.push_front(s);
        }
    }
}

/// A hash-family map.
#[derive(Debug)]
pub struct HashMap {
    keys: Arena,
    values: Arena,
    /// Read-locked by lookups (except LRU ones, which reorder the list), write-locked by changes.
    index: RwLock<Index>,
    key_size: usize,
    key_stride: usize,
    value_size: usize,
    stride: usize,
    percpu: bool,
    lru: bool,
    ncpus: u32,
    lock_off: Option<u32>,
    /// Inner map template (hash of maps).
    pub(crate) inner: Option<Arc<Map>>,
}

impl HashMap {
    pub(crate) fn new(spec: &MapSpec, ty: MapType, ncpus: u32, inner: Option<Arc<Map>>) -> MapResult<HashMap> {
        let percpu = ty.is_percpu();
        let lru = matches!(ty, MapType::LruHash | MapType::LruPercpuHash);
        if !lru && spec.flags & BPF_F_NO_COMMON_LRU != 0 {
            return Err(MapError::Invalid { what: "BPF_F_NO_COMMON_LRU on a non-LRU map" });
        }
        if lru && spec.flags & BPF_F_NO_PREALLOC != 0 {
            return Err(MapError::NotSupported { op: "BPF_F_NO_PREALLOC", map_type: ty.name() });
        }
        if spec.max_entries == 0 || spec.key_size == 0 || spec.value_size == 0 {
            return Err(MapError::Invalid { what: "hash needs key_size, value_size and max_entries > 0" });
        }
        if spec.key_size as usize + spec.value_size as usize >= KMALLOC_MAX_SIZE - 48 {
            return Err(MapError::TooBig { what: "key_size + value_size" });
        }
        if percpu && round8(spec.value_size as usize) > PCPU_MIN_UNIT_SIZE {
            return Err(MapError::TooBig { what: "per-CPU value_size" });
        }
        if ty == MapType::HashOfMaps {
            if spec.value_size != 4 {
                return Err(MapError::Invalid { what: "hash_of_maps needs value_size 4" });
            }
            if inner.is_none() {
                return Err(MapError::Invalid { what: "hash_of_maps needs an inner map" });
            }
        }
        let n = spec.max_entries as usize;
        let key_stride = round8(spec.key_size as usize);
        let stride = round8(spec.value_size as usize);
        let per = if percpu { ncpus as u64 } else { 1 };
        let keys = Arena::new(arena_bytes(n as u64, key_stride as u64)?);
        let values = Arena::new(arena_bytes(n as u64 * per, stride as u64)?);
        let index = Index {
            table: SlotTable::new(n),
            used: vec![false; n],
            free: (0..n as u32).rev().collect(),
            prev: vec![NIL; if lru { n } else { 0 }],
            next: vec![NIL; if lru { n } else { 0 }],
            head: NIL,
            tail: NIL,
            inner: if inner.is_some() { vec![None; n] } else { Vec::new() },
        };
        Ok(HashMap {
            keys,
            values,
            index: RwLock::new(index),
            key_size: spec.key_size as usize,
            key_stride,
            value_size: spec.value_size as usize,
            stride,
            percpu,
            lru,
            ncpus,
            lock_off: spec.spin_lock_off,
            inner,
        })
    }

    /// Position in the table and slot of `key`.
    fn find(&self, ix: &Index, key: &[u8]) -> Option<(usize, u32)> {
        if key.len() != self.key_size {
            return None;
        }
        ix.table.find(hash_key(key), |s| self.keys.eq_bytes(s as usize * self.key_stride, key))
    }

    fn index(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn index_read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn keys(&self) -> &Arena {
        &self.keys
    }

    pub(crate) fn values(&self) -> &Arena {
        &self.values
    }

    fn voff(&self, slot: u32, cpu: u32) -> usize {
        if self.percpu {
            (slot as usize * self.ncpus as usize + (cpu % self.ncpus) as usize) * self.stride
        } else {
            slot as usize * self.stride
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.index_read().table.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn prog_lookup(&self, key: &[u8], cpu: u32) -> Option<Found> {
        if self.lru {
            let mut ix = self.index();
            let (_, slot) = self.find(&ix, key)?;
            ix.touch(slot);
            return Some(Found::Value(self.values.addr(self.voff(slot, cpu))));
        }
        let ix = self.index_read();
        let (_, slot) = self.find(&ix, key)?;
        if self.inner.is_some() {
            return ix.inner[slot as usize].as_ref().map(|m| Found::Map(m.handle_addr()));
        }
        Some(Found::Value(self.values.addr(self.voff(slot, cpu))))
    }

    fn read_host(&self, ix: &Index, slot: u32) -> Vec<u8> {
        if let Some(m) = ix.inner.get(slot as usize).and_then(|m| m.as_ref()) {
            return m.fd().to_le_bytes().to_vec();
        }
        if self.percpu {
            let mut out = vec![0; self.stride * self.ncpus as usize];
            for cpu in 0..self.ncpus {
                self.values.read(self.voff(slot, cpu), &mut out[cpu as usize * self.stride..][..self.stride]);
            }
            out
        } else {
            self.values.read_vec(self.voff(slot, 0), self.value_size)
        }
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        let ix = self.index_read();
        let (_, slot) = self.find(&ix, key).ok_or(MapError::NotFound)?;
        Ok(self.read_host(&ix, slot))
    }

    pub(crate) fn lookup_and_delete(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        let mut ix = self.index();
        let (pos, slot) = self.find(&ix, key).ok_or(MapError::NotFound)?;
        let v = self.read_host(&ix, slot);
        self.remove(&mut ix, pos, slot);
        Ok(v)
    }

    /// Update from a program (`cpu = Some`) or the host (`None`; per-CPU values for every CPU).
    pub(crate) fn update(&self, key: &[u8], value: &[u8], flags: u64, cpu: Option<u32>) -> MapResult<()> {
        self.update_entry(key, value, flags, cpu, None)
    }

    /// Hash of maps: sets `key` to `inner` (already checked against the template by the registry).
    pub(crate) fn update_inner(&self, key: &[u8], value: &[u8], flags: u64, inner: Arc<Map>) -> MapResult<()> {
        self.update_entry(key, value, flags, None, Some(inner))
    }

    fn update_entry(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<u32>,
        inner: Option<Arc<Map>>,
    ) -> MapResult<()> {
        check_update_flags(flags)?;
        let locked = flags & BPF_F_LOCK != 0;
        if locked && (self.percpu || self.lru || self.lock_off.is_none()) {
            return Err(MapError::Invalid { what: "BPF_F_LOCK on a map without bpf_spin_lock" });
        }
        if self.inner.is_some() && inner.is_none() {
            return Err(MapError::Invalid { what: "hash_of_maps values are map fds: update through MapRegistry" });
        }
        let mode = flags & !BPF_F_LOCK;
        let mut ix = self.index();
        let existing = self.find(&ix, key).map(|(_, s)| s);
        match (existing, mode) {
            (Some(_), BPF_NOEXIST) => return Err(MapError::Exists),
            (None, BPF_EXIST) => return Err(MapError::NotFound),
            _ => {}
        }
        let slot = match existing {
            Some(slot) => {
                if self.lru {
                    ix.touch(slot);
                }
                slot
            }
            None => {
                let slot = match ix.free.pop() {
                    Some(s) => s,
                    None if self.lru => {
                        let victim = ix.tail;
                        let vkey = self.keys.read_vec(victim as usize * self.key_stride, self.key_size);
                        let (pos, _) = self.find(&ix, &vkey).expect("LRU list holds only present keys");
                        self.remove(&mut ix, pos, victim);
                        ix.free.pop().expect("eviction freed a slot")
                    }
                    None => return Err(MapError::TooBig { what: "hash map full" }),
                };
                self.keys.write(slot as usize * self.key_stride, key);
                let per = if self.percpu { self.ncpus as usize } else { 1 };
                self.values.zero(self.voff(slot, 0), self.stride * per);
                ix.table.insert(hash_key(key), slot);
                ix.used[slot as usize] = true;
                if self.lru {
                    ix.push_front(slot);
                }
                slot
            }
        };
        if let Some(m) = inner {
            ix.inner[slot as usize] = Some(m);
            return Ok(());
        }
        match (self.percpu, cpu) {
            (true, None) => {
                for c in 0..self.ncpus {
                    self.values.write(self.voff(slot, c), &value[c as usize * self.stride..][..self.stride]);
                }
            }
            (true, Some(c)) => self.values.write(self.voff(slot, c), &value[..self.value_size]),
            (false, _) => {
                copy_value_in(&self.values, self.voff(slot, 0), &value[..self.value_size], self.lock_off, locked)
            }
        }
        Ok(())
    }

    fn remove(&self, ix: &mut Index, pos: usize, slot: u32) {
        ix.table.remove_at(pos);
        ix.used[slot as usize] = false;
        ix.free.push(slot);
        if self.lru {
            ix.unlink(slot);
        }
        if let Some(m) = ix.inner.get_mut(slot as usize) {
            *m = None;
        }
    }

    pub(crate) fn delete(&self, key: &[u8]) -> MapResult<()> {
        let mut ix = self.index();
        let (pos, slot) = self.find(&ix, key).ok_or(MapError::NotFound)?;
        self.remove(&mut ix, pos, slot);
        Ok(())
    }

    pub(crate) fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        let ix = self.index_read();
        let start = match key.and_then(|k| self.find(&ix, k)) {
            Some((_, s)) => s as usize + 1,
            None => 0,
        };
        let next = ix.used[start.min(ix.used.len())..].iter().position(|&u| u).ok_or(MapError::NotFound)? + start;
        Ok(self.keys.read_vec(next * self.key_stride, self.key_size))
    }

    /// (key address, value address for `cpu`) of every element, in slot order.
    pub(crate) fn elem_addrs(&self, cpu: u32) -> Vec<(u64, u64)> {
        let ix = self.index_read();
        (0..ix.used.len() as u32)
            .filter(|&s| ix.used[s as usize])
            .map(|s| (self.keys.addr(s as usize * self.key_stride), self.values.addr(self.voff(s, cpu))))
            .collect()
    }
}
