//! Memory that `bpf_probe_read_user`/`_kernel` (and their `_str` forms) read on behalf of a program.
//!
//! A [`MemorySource`] answers "copy `buf.len()` bytes from address `addr`" with the length of the
//! readable prefix it copied: the kernel's `probe_read` needs all of it (else `-EFAULT` and a zeroed
//! buffer), `probe_read_str` stops at the first NUL or the first unreadable byte. Where an address lives
//! (user or kernel half) is the helper's business, not the source's.
//!
//! Implementors: [`BlobMemory`] (a replay file's `memory` blobs), [`ProcessMemory`] (a live process via
//! `process_vm_readv`, split at page boundaries so a partial read stops exactly at the first unmapped
//! page), [`NoMemory`], and [`RecordingMemory`], which logs what a program read so `bpfc record` can
//! write it into the replay file.

use std::sync::Mutex;

/// Memory that probe_read helpers may read.
pub trait MemorySource: Send + Sync {
    /// Copies bytes from `addr` into `buf`; returns how many leading bytes were readable and copied.
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize;

    /// Everything the source holds, when it is a finite set of blobs (replay), so a replayed event can be
    /// written out again; empty for live memory.
    fn blobs(&self) -> Vec<(u64, Vec<u8>)> {
        Vec::new()
    }
}

/// Nothing is readable.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoMemory;

impl MemorySource for NoMemory {
    fn read(&self, _addr: u64, _buf: &mut [u8]) -> usize {
        0
    }
}

/// Non-overlapping byte blobs at addresses (a replay file's `memory` entries).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlobMemory {
    /// Sorted by address, non-overlapping, none empty, none wrapping past `u64::MAX`.
    blobs: Vec<(u64, Vec<u8>)>,
}

/// Two blobs cover the same byte, or one does not fit in the address space.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// Overlap.
    #[error("memory blob at {addr:#x} ({len} bytes) overlaps the blob at {other:#x}")]
    Overlap {
        /// The new blob's address.
        addr: u64,
        /// Its length.
        len: usize,
        /// The existing blob it overlaps.
        other: u64,
    },
    /// `addr + len` overflows.
    #[error("memory blob at {addr:#x} ({len} bytes) runs past the end of the address space")]
    Wraps {
        /// Address.
        addr: u64,
        /// Length.
        len: usize,
    },
}

impl BlobMemory {
    /// Empty.
    pub fn new() -> BlobMemory {
        BlobMemory::default()
    }

    /// Adds `bytes` at `addr`; empty blobs are ignored.
    pub fn insert(&mut self, addr: u64, bytes: Vec<u8>) -> Result<(), BlobError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let len = bytes.len();
        let end = addr.checked_add(len as u64 - 1).ok_or(BlobError::Wraps { addr, len })?;
        let at = self.blobs.partition_point(|(a, _)| *a < addr);
        if let Some((a, b)) = at.checked_sub(1).and_then(|i| self.blobs.get(i))
            && a + (b.len() as u64 - 1) >= addr
        {
            return Err(BlobError::Overlap { addr, len, other: *a });
        }
        if let Some((a, _)) = self.blobs.get(at)
            && *a <= end
        {
            return Err(BlobError::Overlap { addr, len, other: *a });
        }
        self.blobs.insert(at, (addr, bytes));
        Ok(())
    }
}

impl MemorySource for BlobMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut done = 0usize;
        // The blob containing `addr` is the last one starting at or before it; adjacent blobs continue it.
        let mut i = self.blobs.partition_point(|(a, _)| *a <= addr);
        let Some(first) = i.checked_sub(1) else { return 0 };
        i = first;
        while done < buf.len() {
            let Some((a, bytes)) = self.blobs.get(i) else { break };
            let Some(cur) = addr.checked_add(done as u64) else { break };
            if cur < *a || cur - a >= bytes.len() as u64 {
                break;
            }
            let off = (cur - a) as usize;
            let n = (bytes.len() - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&bytes[off..off + n]);
            done += n;
            i += 1;
        }
        done
    }

    fn blobs(&self) -> Vec<(u64, Vec<u8>)> {
        self.blobs.clone()
    }
}

/// A live process's memory, read with `process_vm_readv` (needs the right to ptrace it; root has it).
/// Reads fail once the process has exited or exec'd into another address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessMemory {
    /// The process (or thread) id.
    pub pid: u32,
}

impl MemorySource for ProcessMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        crate::sys::perf::process_vm_read(self.pid, addr, buf)
    }
}

/// Blobs laid over another source: addresses the blobs cover read from them, the rest from `below`.
pub struct Overlay {
    /// Read first.
    pub top: BlobMemory,
    /// Read where `top` has nothing.
    pub below: std::sync::Arc<dyn MemorySource>,
}

impl MemorySource for Overlay {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        read_through(&self.top, &*self.below, addr, buf)
    }

    fn blobs(&self) -> Vec<(u64, Vec<u8>)> {
        self.top.blobs()
    }
}

/// Reads from `top`, continuing in `below` where `top` has nothing (or stops part way).
fn read_through(top: &dyn MemorySource, below: &dyn MemorySource, addr: u64, buf: &mut [u8]) -> usize {
    let n = top.read(addr, buf);
    if n == buf.len() {
        return n;
    }
    match addr.checked_add(n as u64) {
        Some(rest) => n + below.read(rest, &mut buf[n..]),
        None => n,
    }
}

/// The user stack of a live sample (`PERF_SAMPLE_STACK_USER`: the bytes from the sampled stack pointer
/// up, copied by the kernel at the event) laid over the process's memory. Reads of the stack see it as
/// it was when the event fired, not as the process has since rewritten it. Not a recorded blob: a
/// recording keeps only the bytes programs actually read.
pub struct StackSnapshot {
    /// The sampled stack pointer.
    pub sp: u64,
    /// Bytes at `sp..`.
    pub bytes: Vec<u8>,
    /// Everything else.
    pub below: std::sync::Arc<dyn MemorySource>,
}

/// One contiguous span of bytes at `start`.
struct Span<'a> {
    start: u64,
    bytes: &'a [u8],
}

impl MemorySource for Span<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        let Some(off) = addr.checked_sub(self.start).filter(|&o| o < self.bytes.len() as u64) else { return 0 };
        let n = buf.len().min(self.bytes.len() - off as usize);
        buf[..n].copy_from_slice(&self.bytes[off as usize..off as usize + n]);
        n
    }
}

impl MemorySource for StackSnapshot {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        read_through(&Span { start: self.sp, bytes: &self.bytes }, &*self.below, addr, buf)
    }

    fn blobs(&self) -> Vec<(u64, Vec<u8>)> {
        self.below.blobs()
    }
}

/// Wraps a source and keeps every successful read (address and the bytes), for `bpfc record`.
pub struct RecordingMemory {
    inner: std::sync::Arc<dyn MemorySource>,
    log: Mutex<Vec<(u64, Vec<u8>)>>,
}

impl RecordingMemory {
    /// Records reads of `inner`.
    pub fn new(inner: std::sync::Arc<dyn MemorySource>) -> RecordingMemory {
        RecordingMemory { inner, log: Mutex::new(Vec::new()) }
    }

    /// The reads so far, in order (may overlap; [`crate::events::ReplayWriter`] merges them).
    pub fn take(&self) -> Vec<(u64, Vec<u8>)> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl MemorySource for RecordingMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> usize {
        let n = self.inner.read(addr, buf);
        if n > 0 {
            self.log.lock().unwrap_or_else(|p| p.into_inner()).push((addr, buf[..n].to_vec()));
        }
        n
    }
}

/// Merges possibly overlapping `(addr, bytes)` reads into non-overlapping blobs (later reads win where
/// they overlap, which only matters if memory changed between reads).
pub fn merge_reads(reads: &[(u64, Vec<u8>)]) -> Vec<(u64, Vec<u8>)> {
    let mut bytes: std::collections::BTreeMap<u64, u8> = std::collections::BTreeMap::new();
    for (addr, data) in reads {
        for (i, b) in data.iter().enumerate() {
            if let Some(a) = addr.checked_add(i as u64) {
                bytes.insert(a, *b);
            }
        }
    }
    let mut out: Vec<(u64, Vec<u8>)> = Vec::new();
    for (a, b) in bytes {
        match out.last_mut() {
            Some((start, run)) if *start + run.len() as u64 == a => run.push(b),
            _ => out.push((a, vec![b])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_snapshot_reads_first_then_continues_below() {
        let mut below = BlobMemory::new();
        below.insert(0x7000, b"OLDSTACKtail".to_vec()).unwrap();
        below.insert(0x9000, b"heap".to_vec()).unwrap();
        let m = StackSnapshot { sp: 0x7000, bytes: b"NEWSTACK".to_vec(), below: std::sync::Arc::new(below) };
        let mut buf = [0u8; 12];
        assert_eq!(m.read(0x7000, &mut buf), 12);
        assert_eq!(&buf, b"NEWSTACKtail", "snapshot bytes win, the rest reads through");
        let mut buf = [0u8; 4];
        assert_eq!(m.read(0x9000, &mut buf), 4);
        assert_eq!(&buf, b"heap");
        assert_eq!(m.read(0x6fff, &mut buf), 0, "below sp is not in the snapshot nor below");

        let mut top = BlobMemory::new();
        top.insert(0x9000, b"he".to_vec()).unwrap();
        let o = Overlay { top, below: std::sync::Arc::new(m) };
        assert_eq!(o.read(0x9000, &mut buf), 4, "an overlay continues below where its blob ends");
        assert_eq!(&buf, b"heap");
    }

    #[test]
    fn blobs_read_prefixes_and_refuse_overlaps() {
        let mut m = BlobMemory::new();
        m.insert(0x1000, b"abcd".to_vec()).unwrap();
        m.insert(0x1004, b"ef".to_vec()).unwrap();
        m.insert(0x2000, b"x".to_vec()).unwrap();
        assert!(matches!(m.insert(0x1003, b"zz".to_vec()), Err(BlobError::Overlap { other: 0x1000, .. })));
        assert!(matches!(m.insert(0xfff, b"zz".to_vec()), Err(BlobError::Overlap { other: 0x1000, .. })));
        assert!(matches!(m.insert(u64::MAX, b"zz".to_vec()), Err(BlobError::Wraps { .. })));
        let mut buf = [0u8; 8];
        assert_eq!(m.read(0x1002, &mut buf), 4);
        assert_eq!(&buf[..4], b"cdef");
        assert_eq!(m.read(0xfff, &mut buf), 0);
        assert_eq!(m.read(0x2000, &mut buf), 1);
        assert_eq!(m.read(0x2001, &mut buf), 0);
    }

    #[test]
    fn merge() {
        let r = merge_reads(&[(10, vec![1, 2, 3]), (12, vec![9, 4]), (20, vec![5])]);
        assert_eq!(r, vec![(10, vec![1, 2, 9, 4]), (20, vec![5])]);
    }
}
