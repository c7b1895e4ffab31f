//! Longest-prefix-match trie (kernel/bpf/lpm_trie.c). Keys are `struct bpf_lpm_trie_key_u8`: a u32
//! prefix length followed by `key_size - 4` data bytes, compared most significant bit first.
//!
//! The kernel stores prefixes in a binary trie and walks it in post-order for `get_next_key` (children on
//! bit 0, then bit 1, then the node). That order is a total order on prefixes — of two prefixes where one
//! extends the other the longer comes first, otherwise the one with a 0 at the first differing bit — so
//! this map keeps a flat list and sorts by that comparator instead of building the trie; intermediate
//! nodes are invisible to every operation. Lookups scan the list for the longest match (O(n); LPM maps are
//! small routing tables). Values live in a preallocated arena of `max_entries` slots.

use std::cmp::Ordering;
use std::sync::{Mutex, MutexGuard};

use super::array::arena_bytes;
use super::{Arena, BPF_EXIST, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE, BPF_NOEXIST, MapError, MapResult, MapSpec, round8};

const LPM_DATA_SIZE_MAX: u32 = 256;
const LPM_VAL_SIZE_MAX: u32 = (4 << 20) - 512 - 64 - LPM_DATA_SIZE_MAX;

#[derive(Debug)]
struct Entry {
    prefixlen: u32,
    data: Vec<u8>,
    slot: u32,
}

fn bit(data: &[u8], i: u32) -> u8 {
    (data[(i / 8) as usize] >> (7 - i % 8)) & 1
}

/// Number of leading bits on which `a` and `b` agree, at most `limit`.
fn common_bits(a: &[u8], b: &[u8], limit: u32) -> u32 {
    let mut n = 0;
    while n < limit {
        let i = (n / 8) as usize;
        if n % 8 == 0 && n + 8 <= limit && a[i] == b[i] {
            n += 8;
            continue;
        }
        if bit(a, n) != bit(b, n) {
            break;
        }
        n += 1;
    }
    n
}

/// The kernel's post-order position of two prefixes.
fn post_order(alen: u32, a: &[u8], blen: u32, b: &[u8]) -> Ordering {
    let min = alen.min(blen);
    let c = common_bits(a, b, min);
    if c == min { blen.cmp(&alen) } else { bit(a, c).cmp(&bit(b, c)) }
}

#[derive(Debug)]
struct Inner {
    entries: Vec<Entry>,
    free: Vec<u32>,
}

/// `lpm_trie`.
#[derive(Debug)]
pub struct LpmTrie {
    values: Arena,
    inner: Mutex<Inner>,
    data_size: usize,
    value_size: usize,
    stride: usize,
    max_entries: u32,
}

impl LpmTrie {
    pub(crate) fn new(spec: &MapSpec) -> MapResult<LpmTrie> {
        let allowed = BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | super::ACCESS_MASK;
        if spec.max_entries == 0
            || spec.flags & BPF_F_NO_PREALLOC == 0
            || spec.flags & !allowed != 0
            || spec.key_size < 5
            || spec.key_size > 4 + LPM_DATA_SIZE_MAX
            || spec.value_size < 1
            || spec.value_size > LPM_VAL_SIZE_MAX
        {
            return Err(MapError::Invalid { what: "lpm_trie attributes" });
        }
        let stride = round8(spec.value_size as usize);
        let values = Arena::new(arena_bytes(spec.max_entries as u64, stride as u64)?);
        Ok(LpmTrie {
            values,
            inner: Mutex::new(Inner { entries: Vec::new(), free: (0..spec.max_entries).rev().collect() }),
            data_size: spec.key_size as usize - 4,
            value_size: spec.value_size as usize,
            stride,
            max_entries: spec.max_entries,
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn values(&self) -> &Arena {
        &self.values
    }

    fn max_prefixlen(&self) -> u32 {
        self.data_size as u32 * 8
    }

    fn split<'k>(&self, key: &'k [u8]) -> (u32, &'k [u8]) {
        (u32::from_le_bytes(key[..4].try_into().expect("key_size >= 5")), &key[4..4 + self.data_size])
    }

    fn longest_match(&self, inner: &Inner, key: &[u8]) -> Option<u32> {
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen() {
            return None;
        }
        inner
            .entries
            .iter()
            .filter(|e| e.prefixlen <= plen && common_bits(&e.data, data, e.prefixlen) == e.prefixlen)
            .max_by_key(|e| e.prefixlen)
            .map(|e| e.slot)
    }

    fn exact(&self, inner: &Inner, plen: u32, data: &[u8]) -> Option<usize> {
        inner.entries.iter().position(|e| e.prefixlen == plen && common_bits(&e.data, data, plen) == plen)
    }

    pub(crate) fn lookup_addr(&self, key: &[u8]) -> Option<u64> {
        let inner = self.inner();
        self.longest_match(&inner, key).map(|s| self.values.addr(s as usize * self.stride))
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        let inner = self.inner();
        let slot = self.longest_match(&inner, key).ok_or(MapError::NotFound)?;
        Ok(self.values.read_vec(slot as usize * self.stride, self.value_size))
    }

    pub(crate) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> MapResult<()> {
        if flags > BPF_EXIST {
            return Err(MapError::Invalid { what: "update flags" });
        }
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen() {
            return Err(MapError::Invalid { what: "prefixlen" });
        }
        let mut inner = self.inner();
        let slot = match self.exact(&inner, plen, data) {
            Some(i) => {
                if flags == BPF_NOEXIST {
                    return Err(MapError::Exists);
                }
                inner.entries[i].data = data.to_vec();
                inner.entries[i].slot
            }
            None => {
                if flags == BPF_EXIST {
                    return Err(MapError::NotFound);
                }
                if inner.entries.len() == self.max_entries as usize {
                    return Err(MapError::NoSpace);
                }
                let slot = inner.free.pop().expect("fewer entries than slots");
                let pos = inner
                    .entries
                    .binary_search_by(|e| post_order(e.prefixlen, &e.data, plen, data))
                    .unwrap_or_else(|p| p);
                inner.entries.insert(pos, Entry { prefixlen: plen, data: data.to_vec(), slot });
                slot
            }
        };
        self.values.write(slot as usize * self.stride, &value[..self.value_size]);
        Ok(())
    }

    pub(crate) fn delete(&self, key: &[u8]) -> MapResult<()> {
        let (plen, data) = self.split(key);
        if plen > self.max_prefixlen() {
            return Err(MapError::Invalid { what: "prefixlen" });
        }
        let mut inner = self.inner();
        let i = self.exact(&inner, plen, data).ok_or(MapError::NotFound)?;
        let e = inner.entries.remove(i);
        inner.free.push(e.slot);
        Ok(())
    }

    pub(crate) fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        let inner = self.inner();
        let pos = match key.map(|k| self.split(k)) {
            Some((plen, data)) if plen <= self.max_prefixlen() => match self.exact(&inner, plen, data) {
                Some(i) => i + 1,
                None => 0,
            },
            _ => 0,
        };
        let e = inner.entries.get(pos).ok_or(MapError::NotFound)?;
        let mut out = e.prefixlen.to_le_bytes().to_vec();
        out.extend_from_slice(&e.data);
        Ok(out)
    }
}
