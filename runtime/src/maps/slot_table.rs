//! The index of hash-family maps: an open-addressing table (linear probing, tombstones) from key hash to
//! element slot. Keys themselves stay in the map's key arena and are compared there, so a lookup touches
//! one flat array and one key — no per-key allocation, as in the kernel's preallocated hash table.
//!
//! Entries pack `hash << 32 | (slot + 1)`; 0 is empty and `u64::MAX` a tombstone (hashes are 31 bits so
//! no live entry can equal it). The table has at least twice as many entries as the map has elements, and
//! is rebuilt in place when tombstones push its load above 3/4, so probes stay short and always end.

const EMPTY: u64 = 0;
const TOMB: u64 = u64::MAX;

/// FxHash of the key words, folded to 31 bits.
pub(crate) fn hash_key(key: &[u8]) -> u32 {
    let mut h: u64 = key.len() as u64;
    for c in key.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    ((h ^ (h >> 32)) as u32) & 0x7fff_ffff
}

#[derive(Debug)]
pub(crate) struct SlotTable {
    entries: Vec<u64>,
    mask: usize,
    len: usize,
    tombs: usize,
}

impl SlotTable {
    pub(crate) fn new(max_entries: usize) -> SlotTable {
        let cap = (max_entries * 2).max(8).next_power_of_two();
        SlotTable { entries: vec![EMPTY; cap], mask: cap - 1, len: 0, tombs: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Position and slot of the entry with hash `h` whose key `eq` accepts.
    pub(crate) fn find(&self, h: u32, eq: impl Fn(u32) -> bool) -> Option<(usize, u32)> {
        let mut pos = h as usize & self.mask;
        loop {
            let e = self.entries[pos];
            if e == EMPTY {
                return None;
            }
            if e != TOMB && (e >> 32) as u32 == h {
                let slot = (e as u32) - 1;
                if eq(slot) {
                    return Some((pos, slot));
                }
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Adds `slot` under hash `h` (the key must be absent).
    pub(crate) fn insert(&mut self, h: u32, slot: u32) {
        if (self.len + self.tombs + 1) * 4 > self.entries.len() * 3 {
            self.rebuild();
        }
        let mut pos = h as usize & self.mask;
        while self.entries[pos] != EMPTY && self.entries[pos] != TOMB {
            pos = (pos + 1) & self.mask;
        }
        if self.entries[pos] == TOMB {
            self.tombs -= 1;
        }
        self.entries[pos] = (h as u64) << 32 | (slot as u64 + 1);
        self.len += 1;
    }

    /// Removes the entry at `pos` (from [`SlotTable::find`]).
    pub(crate) fn remove_at(&mut self, pos: usize) {
        self.entries[pos] = TOMB;
        self.len -= 1;
        self.tombs += 1;
    }

    fn rebuild(&mut self) {
        let live: Vec<u64> = self.entries.iter().copied().filter(|&e| e != EMPTY && e != TOMB).collect();
        self.entries.iter_mut().for_each(|e| *e = EMPTY);
        self.tombs = 0;
        for e in live {
            let mut pos = (e >> 32) as usize & self.mask;
            while self.entries[pos] != EMPTY {
                pos = (pos + 1) & self.mask;
            }
            self.entries[pos] = e;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn churn_keeps_lookups_exact() {
        let mut t = SlotTable::new(16);
        let mut present = std::collections::BTreeMap::new();
        for round in 0..10_000u32 {
            let k = round.wrapping_mul(2_654_435_761) % 40;
            let h = hash_key(&k.to_le_bytes());
            match t.find(h, |s| s == k) {
                Some((pos, _)) => {
                    t.remove_at(pos);
                    present.remove(&k);
                }
                None if present.len() < 16 => {
                    t.insert(h, k);
                    present.insert(k, ());
                }
                None => {}
            }
            assert_eq!(t.len(), present.len());
        }
        for k in 0..40u32 {
            assert_eq!(t.find(hash_key(&k.to_le_bytes()), |s| s == k).is_some(), present.contains_key(&k));
        }
    }
}
