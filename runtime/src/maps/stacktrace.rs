//! `stack_trace` maps (kernel/bpf/stackmap.c): `bpf_get_stackid` stores a stack (an array of u64
//! instruction pointers) in bucket `jhash2(ips, 0) & (n_buckets - 1)` with `n_buckets` the next power of
//! two of `max_entries`, and returns the bucket as the stack id — the same hash and seed as the kernel, so
//! the same stack gets the same id. A different stack in an occupied bucket is -EEXIST unless
//! `BPF_F_REUSE_STACKID` replaces it. User space reads stacks by id (value: ips, zero-padded), deletes
//! them and walks the occupied ids; it cannot update them.

use std::sync::{Mutex, MutexGuard};

use super::{BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY, MapError, MapResult, MapSpec, key_u32};

/// `BPF_F_SKIP_FIELD_MASK`: frames to skip.
pub const BPF_F_SKIP_FIELD_MASK: u64 = 0xff;
/// `BPF_F_USER_STACK`.
pub const BPF_F_USER_STACK: u64 = 1 << 8;
/// `BPF_F_FAST_STACK_CMP`: a matching hash is enough.
pub const BPF_F_FAST_STACK_CMP: u64 = 1 << 9;
/// `BPF_F_REUSE_STACKID`: replace a different stack in the bucket.
pub const BPF_F_REUSE_STACKID: u64 = 1 << 10;
/// `map_flags`: values are build ids (not supported here).
pub const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;
/// The kernel's default `perf_event_max_stack` sysctl.
pub const PERF_MAX_STACK: u32 = 127;

/// The kernel's `jhash2` (Bob Jenkins' lookup3 over u32 words).
pub fn jhash2(k: &[u32], initval: u32) -> u32 {
    let init = 0xdead_beefu32.wrapping_add((k.len() as u32) << 2).wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);
    let mut k = k;
    while k.len() > 3 {
        a = a.wrapping_add(k[0]);
        b = b.wrapping_add(k[1]);
        c = c.wrapping_add(k[2]);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(4);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(6);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(8);
        b = b.wrapping_add(a);
        a = a.wrapping_sub(c);
        a ^= c.rotate_left(16);
        c = c.wrapping_add(b);
        b = b.wrapping_sub(a);
        b ^= a.rotate_left(19);
        a = a.wrapping_add(c);
        c = c.wrapping_sub(b);
        c ^= b.rotate_left(4);
        b = b.wrapping_add(a);
        k = &k[3..];
    }
    if k.is_empty() {
        return c;
    }
    if k.len() == 3 {
        c = c.wrapping_add(k[2]);
    }
    if k.len() >= 2 {
        b = b.wrapping_add(k[1]);
    }
    a = a.wrapping_add(k[0]);
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

#[derive(Debug, Clone)]
struct Bucket {
    hash: u32,
    ips: Vec<u64>,
}

/// `stack_trace`.
#[derive(Debug)]
pub struct StackTraceMap {
    buckets: Mutex<Vec<Option<Bucket>>>,
    max_depth: usize,
    value_size: usize,
}

impl StackTraceMap {
    pub(crate) fn new(spec: &MapSpec) -> MapResult<StackTraceMap> {
        if spec.flags & !(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_STACK_BUILD_ID) != 0 {
            return Err(MapError::Invalid { what: "stack_trace map_flags" });
        }
        if spec.flags & BPF_F_STACK_BUILD_ID != 0 {
            return Err(MapError::OpNotSupported { op: "build-id stack traces" });
        }
        if spec.key_size != 4 || spec.value_size < 8 || !spec.value_size.is_multiple_of(8) || spec.max_entries == 0 {
            return Err(MapError::Invalid { what: "stack_trace needs key_size 4 and a value of u64s" });
        }
        if spec.value_size / 8 > PERF_MAX_STACK {
            return Err(MapError::Invalid { what: "stack_trace deeper than perf_event_max_stack" });
        }
        let n = spec.max_entries.checked_next_power_of_two().ok_or(MapError::TooBig { what: "max_entries" })?;
        if n as u64 > 1 << 24 {
            return Err(MapError::NoMem { bytes: n as u64 * spec.value_size as u64 });
        }
        Ok(StackTraceMap {
            buckets: Mutex::new(vec![None; n as usize]),
            max_depth: spec.value_size as usize / 8,
            value_size: spec.value_size as usize,
        })
    }

    fn buckets(&self) -> MutexGuard<'_, Vec<Option<Bucket>>> {
        self.buckets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `bpf_get_stackid` for `stack` (innermost first): the id, or a positive errno.
    pub fn get_stackid(&self, stack: &[u64], flags: u64) -> Result<u32, i32> {
        use super::errno::{EEXIST, EFAULT, EINVAL};
        if flags & !(BPF_F_SKIP_FIELD_MASK | BPF_F_USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID) != 0 {
            return Err(EINVAL);
        }
        let skip = (flags & BPF_F_SKIP_FIELD_MASK) as usize;
        if stack.len() <= skip {
            return Err(EFAULT);
        }
        let ips = &stack[skip..stack.len().min(skip + self.max_depth)];
        let words: Vec<u32> = ips.iter().flat_map(|ip| [*ip as u32, (*ip >> 32) as u32]).collect();
        let hash = jhash2(&words, 0);
        let mut b = self.buckets();
        let id = hash as usize & (b.len() - 1);
        if let Some(old) = &b[id] {
            if old.hash == hash && (flags & BPF_F_FAST_STACK_CMP != 0 || old.ips == ips) {
                return Ok(id as u32);
            }
            if flags & BPF_F_REUSE_STACKID == 0 {
                return Err(EEXIST);
            }
        }
        b[id] = Some(Bucket { hash, ips: ips.to_vec() });
        Ok(id as u32)
    }

    pub(crate) fn lookup(&self, key: &[u8]) -> MapResult<Vec<u8>> {
        let b = self.buckets();
        let bucket = b.get(key_u32(key) as usize).and_then(|x| x.as_ref()).ok_or(MapError::NotFound)?;
        let mut out = vec![0u8; self.value_size];
        for (i, ip) in bucket.ips.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&ip.to_le_bytes());
        }
        Ok(out)
    }

    pub(crate) fn delete(&self, key: &[u8]) -> MapResult<()> {
        let mut b = self.buckets();
        let id = key_u32(key) as usize;
        if id >= b.len() {
            return Err(MapError::TooBig { what: "stack id" });
        }
        b[id].take().map(|_| ()).ok_or(MapError::NotFound)
    }

    pub(crate) fn get_next_key(&self, key: Option<&[u8]>) -> MapResult<Vec<u8>> {
        let b = self.buckets();
        let start = match key.map(key_u32) {
            Some(id) if (id as usize) < b.len() && b[id as usize].is_some() => id as usize + 1,
            _ => 0,
        };
        let next = (start..b.len()).find(|&i| b[i].is_some()).ok_or(MapError::NotFound)?;
        Ok((next as u32).to_le_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// lookup3's published test vector: hashword of the 4-byte-per-word string is not available, so pin the
    /// empty input (`0xdeadbeef`) and self-consistency of ids.
    #[test]
    fn jhash2_basics_and_ids() {
        assert_eq!(jhash2(&[], 0), 0xdead_beef);
        assert_ne!(jhash2(&[1], 0), jhash2(&[2], 0));
        let m =
            StackTraceMap::new(&MapSpec { key_size: 4, value_size: 16, max_entries: 3, ..Default::default() }).unwrap();
        let id = m.get_stackid(&[0x10, 0x20, 0x30], 0).unwrap();
        assert!(id < 4);
        assert_eq!(m.get_stackid(&[0x10, 0x20, 0x30], 0), Ok(id), "same stack, same id");
        assert_eq!(m.lookup(&id.to_le_bytes()).unwrap(), [0x10, 0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(m.get_stackid(&[0x10], 1), Err(crate::maps::errno::EFAULT));
        assert_eq!(m.get_next_key(None).unwrap(), id.to_le_bytes());
        m.delete(&id.to_le_bytes()).unwrap();
        assert_eq!(m.get_next_key(None), Err(MapError::NotFound));
    }
}
