//! The fixed storage behind every map: one contiguous, 8-byte aligned block allocated at map creation and
//! never moved or resized, so an address handed to a program stays valid for the map's lifetime.
//!
//! The block is a `Box<[AtomicU64]>`. Programs (interpreted or native, on several threads) read and write
//! it through raw addresses while the host copies values in and out; keeping every word an atomic makes
//! those concurrent accesses well-defined on the Rust side without any `unsafe` here: host copies are
//! relaxed word loads/stores (plain `mov`s on x86-64 and aarch64), and program atomics (`lock xadd`) on the
//! same words cannot be torn by a host copy of a neighbouring word. Slots are laid out on 8-byte strides
//! (the kernel's `round_up(value_size, 8)`), so a slot never shares a word with another slot.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::abi::Region;

/// Rounds a size up to the 8-byte stride the kernel uses for map values.
pub fn round8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

/// A fixed, word-aligned block of shared memory.
pub struct Arena {
    words: Box<[AtomicU64]>,
}

impl std::fmt::Debug for Arena {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arena").field("base", &format_args!("{:#x}", self.base())).field("len", &self.len()).finish()
    }
}

impl Arena {
    /// A zeroed arena of at least `bytes` bytes (rounded up to a word; never empty so the base is unique).
    pub fn new(bytes: usize) -> Arena {
        let words = bytes.div_ceil(8).max(1);
        Arena { words: (0..words).map(|_| AtomicU64::new(0)).collect() }
    }

    /// Size in bytes.
    pub fn len(&self) -> usize {
        self.words.len() * 8
    }

    /// Whether the arena is empty (never: at least one word is allocated).
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Address of the first byte.
    pub fn base(&self) -> u64 {
        self.words.as_ptr() as u64
    }

    /// The first byte as a pointer for `env.map_values` (atomics are interior-mutable, so writes through it
    /// by programs are permitted).
    pub fn as_mut_ptr(&self) -> *mut u8 {
        self.words.as_ptr().cast::<u8>().cast_mut()
    }

    /// Address of byte `off`.
    pub fn addr(&self, off: usize) -> u64 {
        self.base() + off as u64
    }

    /// The offset of `addr` when it lies inside the arena.
    pub fn offset_of(&self, addr: u64) -> Option<usize> {
        let off = addr.checked_sub(self.base())?;
        (off < self.len() as u64).then_some(off as usize)
    }

    /// The arena as a region for the interpreter and checked native code.
    pub fn region(&self, writable: bool) -> Region {
        Region { start: self.base(), end: self.base() + self.len() as u64, writable: writable as u64 }
    }

    /// Copies `out.len()` bytes starting at byte `off` into `out`.
    pub fn read(&self, off: usize, out: &mut [u8]) {
        let mut pos = off;
        let mut i = 0;
        while i < out.len() {
            let word = self.words[pos / 8].load(Ordering::Relaxed).to_le_bytes();
            let inner = pos % 8;
            let n = (8 - inner).min(out.len() - i);
            out[i..i + n].copy_from_slice(&word[inner..inner + n]);
            i += n;
            pos += n;
        }
    }

    /// Reads `len` bytes at `off` into a new vector.
    pub fn read_vec(&self, off: usize, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        self.read(off, &mut v);
        v
    }

    /// Whether the bytes at 8-aligned `off` equal `data` (hash key comparison without a copy).
    pub fn eq_bytes(&self, off: usize, data: &[u8]) -> bool {
        debug_assert!(off.is_multiple_of(8));
        data.chunks(8).enumerate().all(|(i, c)| {
            let w = self.words[off / 8 + i].load(Ordering::Relaxed);
            // Compare whole words as integers (no memcmp call); a short tail compares its low bytes.
            let mut buf = [0u8; 8];
            buf[..c.len()].copy_from_slice(c);
            let mask = if c.len() == 8 { u64::MAX } else { (1u64 << (8 * c.len())) - 1 };
            w & mask == u64::from_le_bytes(buf)
        })
    }

    /// Copies `data` to byte `off`. Whole words are stored; a partial word is merged with a
    /// compare-exchange loop so bytes around it (a concurrently updated neighbour field) survive.
    pub fn write(&self, off: usize, data: &[u8]) {
        let mut pos = off;
        let mut i = 0;
        while i < data.len() {
            let inner = pos % 8;
            let n = (8 - inner).min(data.len() - i);
            let w = &self.words[pos / 8];
            if n == 8 {
                w.store(u64::from_le_bytes(data[i..i + 8].try_into().expect("8 bytes")), Ordering::Relaxed);
            } else {
                let _ = w.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                    let mut b = old.to_le_bytes();
                    b[inner..inner + n].copy_from_slice(&data[i..i + n]);
                    Some(u64::from_le_bytes(b))
                });
            }
            i += n;
            pos += n;
        }
    }

    /// Zeroes `len` bytes at `off`.
    pub fn zero(&self, off: usize, len: usize) {
        if off.is_multiple_of(8) && len.is_multiple_of(8) {
            for w in &self.words[off / 8..(off + len) / 8] {
                w.store(0, Ordering::Relaxed);
            }
        } else {
            self.write(off, &vec![0; len]);
        }
    }

    /// The word at 8-aligned byte offset `off` (for atomics: spin locks, ring positions).
    pub fn word(&self, off: usize) -> &AtomicU64 {
        &self.words[off / 8]
    }

    /// Compare-and-swap of the aligned u32 at byte `off` (4-aligned); returns the previous value.
    pub fn cas_u32(&self, off: usize, expected: u32, new: u32) -> u32 {
        let shift = (off % 8) * 8;
        let mask = 0xffff_ffffu64 << shift;
        let w = self.word(off);
        let mut prev = 0;
        let _ = w.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
            prev = ((old & mask) >> shift) as u32;
            (prev == expected).then_some((old & !mask) | ((new as u64) << shift))
        });
        prev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaligned_read_write_round_trip() {
        let a = Arena::new(32);
        a.write(0, &[0xaa; 32]);
        a.write(3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(a.read_vec(0, 16), [0xaa, 0xaa, 0xaa, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0xaa, 0xaa, 0xaa]);
        a.zero(4, 3);
        assert_eq!(a.read_vec(2, 6), [0xaa, 1, 0, 0, 0, 5]);
        assert_eq!(a.base() % 8, 0);
    }

    #[test]
    fn cas_u32_touches_only_its_half() {
        let a = Arena::new(8);
        a.write(0, &[0xff; 8]);
        assert_eq!(a.cas_u32(4, 0xffff_ffff, 7), 0xffff_ffff);
        assert_eq!(a.read_vec(0, 8), [0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0]);
        assert_eq!(a.cas_u32(4, 0, 9), 7);
        assert_eq!(a.read_vec(4, 4), [7, 0, 0, 0]);
    }
}
