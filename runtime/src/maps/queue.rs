//! Keyless maps: `queue` and `stack` (kernel/bpf/queue_stack_maps.c) and `bloom_filter`
//! (kernel/bpf/bloom_filter.c).
//!
//! Queue and stack share one bounded deque: push appends the newest value; when full, `BPF_EXIST` drops
//! the *oldest* value (for a stack too, as the kernel advances its tail) and anything else fails with
//! -E2BIG. A queue pops the oldest value, a stack the newest. Programs never hold pointers into these maps
//! (pop and peek copy), so their storage need not be address-stable.
//!
//! The bloom filter is a bit array of `roundup_pow_of_two(max_entries × k × 7 / 5)` bits (the kernel's
//! sizing) with `k` seeded SipHash functions; as in the kernel, peek never gives a false negative, and
//! false positives are possible (their pattern differs from the kernel's, whose seed is random anyway).

use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::array::KMALLOC_MAX_SIZE;
use super::{BPF_ANY, BPF_EXIST, BPF_NOEXIST, MapError, MapResult, MapSpec};

/// `queue` or `stack`.
#[derive(Debug)]
pub struct QueueMap {
    items: Mutex<VecDeque<Vec<u8>>>,
    max_entries: usize,
    value_size: usize,
    stack: bool,
}

impl QueueMap {
    pub(crate) fn new(spec: &MapSpec, stack: bool) -> MapResult<QueueMap> {
        if spec.max_entries == 0 || spec.key_size != 0 || spec.value_size == 0 {
            return Err(MapError::Invalid { what: "queue/stack needs key_size 0, value_size > 0, max_entries > 0" });
        }
        if spec.value_size as usize > KMALLOC_MAX_SIZE {
            return Err(MapError::TooBig { what: "value_size" });
        }
        let max_entries = spec.max_entries as usize;
        Ok(QueueMap {
            items: Mutex::new(VecDeque::with_capacity(max_entries.min(1 << 16))),
            max_entries,
            value_size: spec.value_size as usize,
            stack,
        })
    }

    fn items(&self) -> MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn push(&self, value: &[u8], flags: u64) -> MapResult<()> {
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return Err(MapError::Invalid { what: "push flags" });
        }
        if value.len() < self.value_size {
            return Err(MapError::Invalid { what: "value size" });
        }
        let mut items = self.items();
        if items.len() == self.max_entries {
            if flags != BPF_EXIST {
                return Err(MapError::TooBig { what: "queue/stack full" });
            }
            items.pop_front();
        }
        items.push_back(value[..self.value_size].to_vec());
        Ok(())
    }

    /// Pop (`remove`) or peek the next value.
    pub(crate) fn pop(&self, remove: bool) -> MapResult<Vec<u8>> {
        let mut items = self.items();
        match (self.stack, remove) {
            (false, true) => items.pop_front(),
            (true, true) => items.pop_back(),
            (false, false) => items.front().cloned(),
            (true, false) => items.back().cloned(),
        }
        .ok_or(MapError::NotFound)
    }

    /// The values in pop order.
    pub(crate) fn snapshot(&self) -> Vec<Vec<u8>> {
        let items = self.items();
        if self.stack { items.iter().rev().cloned().collect() } else { items.iter().cloned().collect() }
    }
}

/// `bloom_filter`.
#[derive(Debug)]
pub struct BloomFilter {
    bits: Box<[AtomicU64]>,
    mask: u64,
    hashes: u32,
    value_size: usize,
}

impl BloomFilter {
    pub(crate) fn new(spec: &MapSpec) -> MapResult<BloomFilter> {
        if spec.key_size != 0 || spec.value_size == 0 || spec.max_entries == 0 || spec.map_extra & !0xf != 0 {
            return Err(MapError::Invalid { what: "bloom_filter needs key_size 0, value_size > 0, max_entries > 0" });
        }
        if spec.value_size as usize > KMALLOC_MAX_SIZE {
            return Err(MapError::TooBig { what: "value_size" });
        }
        let hashes = match spec.map_extra & 0xf {
            0 => 5,
            k => k as u32,
        };
        let want = (spec.max_entries as u64 * hashes as u64 * 7 / 5).max(64);
        let nbits =
            want.checked_next_power_of_two().filter(|&n| n <= 1 << 32).ok_or(MapError::NoMem { bytes: want / 8 })?;
        Ok(BloomFilter {
            bits: (0..nbits / 64).map(|_| AtomicU64::new(0)).collect(),
            mask: nbits - 1,
            hashes,
            value_size: spec.value_size as usize,
        })
    }

    fn bit(&self, value: &[u8], i: u32) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        i.hash(&mut h);
        h.write(&value[..self.value_size]);
        h.finish() & self.mask
    }

    pub(crate) fn push(&self, value: &[u8], flags: u64) -> MapResult<()> {
        if flags != BPF_ANY {
            return Err(MapError::Invalid { what: "bloom filter push takes only BPF_ANY" });
        }
        if value.len() < self.value_size {
            return Err(MapError::Invalid { what: "value size" });
        }
        for i in 0..self.hashes {
            let b = self.bit(value, i);
            self.bits[(b / 64) as usize].fetch_or(1 << (b % 64), Ordering::Relaxed);
        }
        Ok(())
    }

    pub(crate) fn peek(&self, value: &[u8]) -> MapResult<()> {
        if value.len() < self.value_size {
            return Err(MapError::Invalid { what: "value size" });
        }
        for i in 0..self.hashes {
            let b = self.bit(value, i);
            if self.bits[(b / 64) as usize].load(Ordering::Relaxed) & (1 << (b % 64)) == 0 {
                return Err(MapError::NotFound);
            }
        }
        Ok(())
    }
}
