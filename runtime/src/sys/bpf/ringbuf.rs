//! Reading a kernel `BPF_MAP_TYPE_RINGBUF` from user space, as libbpf's `ring_buffer__consume` does, so
//! the testsuite can compare the records a program produced in the kernel with the ones it produced in
//! bpfc.
//!
//! Layout (`kernel/bpf/ringbuf.c`): the map fd mmaps as one writable consumer page (`consumer_pos` at
//! offset 0) followed, read-only, by the producer page (`producer_pos` at 0) and the data area, which is
//! mapped twice in a row so a record that wraps is still contiguous. Each record starts with an 8-byte
//! header: `u32 len` with bit 31 = still being written (BUSY) and bit 30 = discarded, then `u32 pg_off`;
//! records are padded to 8 bytes. The consumer publishes its position with a release store.

use super::MapFd;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

const BUSY: u32 = 1 << 31;
const DISCARD: u32 = 1 << 30;
const HEADER: u64 = 8;

/// A kernel ring buffer map, mmapped for consuming.
pub struct KernelRingBuf {
    consumer: *mut u8,
    producer: *mut u8,
    page: usize,
    data_size: usize,
}

// SAFETY: both mappings are owned by this value and only reached through `&mut self` or atomics.
unsafe impl Send for KernelRingBuf {}

impl std::fmt::Debug for KernelRingBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KernelRingBuf({} bytes)", self.data_size)
    }
}

impl KernelRingBuf {
    /// Maps ring buffer `map` (its `max_entries` is the data size, a power-of-two number of pages).
    pub fn open(map: &MapFd) -> io::Result<KernelRingBuf> {
        let info = map.info();
        if info.map_type != crate::maps::MapType::RingBuf as u32 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("map `{}` is not a ring buffer", info.name),
            ));
        }
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let data_size = info.max_entries as usize;
        let fd = map.as_fd().as_raw_fd();
        let map_at = |len: usize, prot: i32, off: usize| {
            // SAFETY: a fresh shared mapping of the ring buffer fd at one of the offsets the kernel
            // documents (0: consumer page, RW; one page: producer page and data, RO); the kernel checks the
            // length and protection against what it allows.
            let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd, off as libc::off_t) };
            if p == libc::MAP_FAILED { Err(io::Error::last_os_error()) } else { Ok(p.cast::<u8>()) }
        };
        let consumer = map_at(page, libc::PROT_READ | libc::PROT_WRITE, 0)?;
        let producer = match map_at(page + 2 * data_size, libc::PROT_READ, page) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: `consumer` is the page mapped just above and not referenced anywhere else.
                unsafe { libc::munmap(consumer.cast(), page) };
                return Err(e);
            }
        };
        Ok(KernelRingBuf { consumer, producer, page, data_size })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: offset 0 of the consumer page, 8-aligned, inside the live mapping; the kernel reads it
        // concurrently, hence atomic access.
        unsafe { AtomicU64::from_ptr(self.consumer.cast::<u64>()) }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: offset 0 of the producer page, as above; the kernel writes it concurrently.
        unsafe { AtomicU64::from_ptr(self.producer.cast::<u64>()) }
    }

    /// Every committed record not read yet, in order (discarded ones skipped); stops at one still being
    /// written.
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mask = self.data_size as u64 - 1;
        let mut cons = self.consumer_pos().load(Ordering::Relaxed);
        let prod = self.producer_pos().load(Ordering::Acquire);
        while cons < prod {
            let at = self.page + (cons & mask) as usize;
            // SAFETY: `at` is inside the first copy of the data area (page + [0, data_size)), 8-aligned
            // since positions advance by multiples of 8; the kernel updates the header concurrently.
            let len = unsafe { AtomicU32::from_ptr(self.producer.add(at).cast::<u32>()) }.load(Ordering::Acquire);
            if len & BUSY != 0 {
                break;
            }
            let body = (len & !(BUSY | DISCARD)) as usize;
            if body > self.data_size {
                break; // Not a header the kernel could have written; stop rather than read past the ring.
            }
            if len & DISCARD == 0 {
                // SAFETY: the body starts 8 bytes after the header and is at most `data_size` long, so it
                // ends within the double mapping (page + 2 × data_size); the kernel committed it (BUSY was
                // clear, acquire above) and will not reuse it before we advance consumer_pos below.
                let bytes = unsafe { std::slice::from_raw_parts(self.producer.add(at + HEADER as usize), body) };
                out.push(bytes.to_vec());
            }
            cons += (body as u64 + HEADER).next_multiple_of(8);
            self.consumer_pos().store(cons, Ordering::Release);
        }
        out
    }
}

impl Drop for KernelRingBuf {
    fn drop(&mut self) {
        // SAFETY: both regions were mapped in `open` with these lengths and nothing borrows them now.
        unsafe {
            libc::munmap(self.consumer.cast(), self.page);
            libc::munmap(self.producer.cast(), self.page + 2 * self.data_size);
        }
    }
}
