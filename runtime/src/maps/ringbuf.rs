//! BPF ring buffer (kernel/bpf/ringbuf.c): a multi-producer, single-consumer byte ring of `max_entries`
//! bytes (a power of two, page aligned) with the kernel's record format — an 8-byte header (`len` with
//! BUSY bit 31 and DISCARD bit 30, then `pg_off`) followed by the sample, each record padded to 8 bytes —
//! and the kernel's positions: producer and consumer counters that only grow, `prod - cons < size`.
//!
//! The kernel maps the data pages twice so a record that wraps is still contiguous. Here the arena is
//! `2 × size` bytes and a record always starts at `pos % size` and runs on contiguously (at most `size`
//! bytes, so it stays inside the arena); the consumer reads it from the same offset. Space accounting
//! is therefore exactly the kernel's, and reserved samples are plain contiguous memory a program can write.

use std::collections::BTreeSet;
use std::sync::{Mutex, MutexGuard};

use super::{Arena, MapError, MapResult, MapSpec, round8};

/// Record header size.
pub const RINGBUF_HDR_SZ: u64 = 8;
/// Header bit: record reserved, not yet committed.
pub const RINGBUF_BUSY_BIT: u32 = 1 << 31;
/// Header bit: record discarded.
pub const RINGBUF_DISCARD_BIT: u32 = 1 << 30;
/// `BPF_RB_NO_WAKEUP`.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// `BPF_RB_FORCE_WAKEUP`.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;
/// `bpf_ringbuf_query` selectors.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
/// Ring size.
pub const BPF_RB_RING_SIZE: u64 = 1;
/// Consumer position.
pub const BPF_RB_CONS_POS: u64 = 2;
/// Producer position.
pub const BPF_RB_PROD_POS: u64 = 3;

const PAGE_SIZE: u32 = 4096;

#[derive(Debug, Default)]
struct State {
    prod: u64,
    cons: u64,
    /// Producer positions of records reserved and not yet submitted or discarded.
    reserved: BTreeSet<u64>,
}

/// A committed record, as a consumer receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingRecord {
    /// The sample bytes.
    pub data: Vec<u8>,
}

/// `ringbuf`.
#[derive(Debug)]
pub struct RingBuf {
    arena: Arena,
    size: u64,
    state: Mutex<State>,
}

impl RingBuf {
    pub(crate) fn new(spec: &MapSpec) -> MapResult<RingBuf> {
        let n = spec.max_entries;
        if spec.key_size != 0 || spec.value_size != 0 || !n.is_power_of_two() || !n.is_multiple_of(PAGE_SIZE) {
            return Err(MapError::Invalid {
                what: "ringbuf needs key/value size 0 and a page-aligned power-of-2 size",
            });
        }
        if n as u64 > super::array::MAX_ARENA / 2 {
            return Err(MapError::NoMem { bytes: n as u64 * 2 });
        }
        Ok(RingBuf { arena: Arena::new(2 * n as usize), size: n as u64, state: Mutex::new(State::default()) })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn arena(&self) -> &Arena {
        &self.arena
    }

    /// `bpf_ringbuf_reserve`: the address of a `size`-byte sample, or `None` when flags are set, the record
    /// is larger than the ring, or there is no room.
    pub fn reserve(&self, size: u64, flags: u64) -> Option<u64> {
        if flags != 0 {
            return None;
        }
        let len = round8(size.checked_add(RINGBUF_HDR_SZ)? as usize) as u64;
        if size > u32::MAX as u64 >> 2 || len > self.size {
            return None;
        }
        let mut st = self.state();
        let new_prod = st.prod + len;
        // The oldest busy record also pins space, as the kernel's pending_pos does.
        let oldest = st.reserved.first().copied().unwrap_or(st.cons).min(st.cons);
        if new_prod - oldest > self.size - 1 {
            return None;
        }
        let off = (st.prod % self.size) as usize;
        let hdr = (size as u32 | RINGBUF_BUSY_BIT) as u64 | ((off as u64 / PAGE_SIZE as u64) << 32);
        self.arena.write(off, &hdr.to_le_bytes());
        let pos = st.prod;
        st.reserved.insert(pos);
        st.prod = new_prod;
        Some(self.arena.addr(off + RINGBUF_HDR_SZ as usize))
    }

    /// `bpf_ringbuf_submit` / `bpf_ringbuf_discard` of a sample from [`RingBuf::reserve`]. A pointer that is
    /// not an outstanding sample is refused with -EINVAL and changes nothing.
    pub fn commit(&self, sample: u64, discard: bool) -> MapResult<()> {
        let off = self
            .arena
            .offset_of(sample.wrapping_sub(RINGBUF_HDR_SZ))
            .ok_or(MapError::Invalid { what: "not a ring buffer sample" })? as u64;
        let mut st = self.state();
        let pos = st
            .reserved
            .iter()
            .copied()
            .find(|p| p % self.size == off)
            .ok_or(MapError::Invalid { what: "not an outstanding ring buffer sample" })?;
        st.reserved.remove(&pos);
        let mut hdr = [0u8; 4];
        self.arena.read(off as usize, &mut hdr);
        let mut len = u32::from_le_bytes(hdr) & !RINGBUF_BUSY_BIT;
        if discard {
            len |= RINGBUF_DISCARD_BIT;
        }
        self.arena.write(off as usize, &len.to_le_bytes());
        Ok(())
    }

    /// `bpf_ringbuf_output`: copy `data` in as one record; -EINVAL for unknown flags, -EAGAIN when full.
    pub fn output(&self, data: &[u8], flags: u64) -> MapResult<()> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(MapError::Invalid { what: "ringbuf output flags" });
        }
        let addr = self.reserve(data.len() as u64, 0).ok_or(MapError::Again)?;
        let off = self.arena.offset_of(addr).expect("reserved inside the arena");
        self.arena.write(off, data);
        self.commit(addr, false)
    }

    /// `bpf_ringbuf_query`.
    pub fn query(&self, what: u64) -> u64 {
        let st = self.state();
        match what {
            BPF_RB_AVAIL_DATA => st.prod - st.cons,
            BPF_RB_RING_SIZE => self.size,
            BPF_RB_CONS_POS => st.cons,
            BPF_RB_PROD_POS => st.prod,
            _ => 0,
        }
    }

    /// Consumes committed records in order, stopping at the first busy one (as libbpf's consumer does);
    /// discarded records are skipped.
    pub fn drain(&self) -> Vec<RingRecord> {
        let mut st = self.state();
        let mut out = Vec::new();
        while st.cons < st.prod {
            let off = (st.cons % self.size) as usize;
            let mut hdr = [0u8; 4];
            self.arena.read(off, &mut hdr);
            let hdr = u32::from_le_bytes(hdr);
            if hdr & RINGBUF_BUSY_BIT != 0 {
                break;
            }
            let len = (hdr & !(RINGBUF_BUSY_BIT | RINGBUF_DISCARD_BIT)) as usize;
            if hdr & RINGBUF_DISCARD_BIT == 0 {
                out.push(RingRecord { data: self.arena.read_vec(off + RINGBUF_HDR_SZ as usize, len) });
            }
            st.cons += round8(len + RINGBUF_HDR_SZ as usize) as u64;
        }
        out
    }
}
