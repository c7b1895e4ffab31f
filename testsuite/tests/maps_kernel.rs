//! Map semantics against the kernel's own maps: the same seeded operation sequences run on a map created
//! with `bpf(BPF_MAP_CREATE)` and on `runtime::maps`, and every result — value bytes or errno — must be
//! equal. Creation errors are compared for a table of bad attributes.
//!
//! Where the kernel's behaviour is not deterministic the comparison is weaker, and says so:
//! - hash-family `get_next_key` order depends on the kernel's random hash seed: walks are compared as
//!   key sets, and single `get_next_key` calls only by success/errno;
//! - LRU eviction (which element goes) is an approximation in the kernel: sequences that stay within
//!   capacity are compared exactly; overflow is checked by properties (count ≤ max_entries, the newest
//!   element survives) on both sides;
//! - bloom filter false positives differ (random seed): only members are compared;
//! - map-in-map lookups return the inner map's kernel id vs our fd: compared by success/errno.
//!
//! Needs bpf() (root). If it is unusable every case fails with the reason rather than passing.

use std::collections::BTreeSet;

use bpfc_runtime::maps::{MapRegistry, MapSpec, MapType};
use bpfc_runtime::sys::bpf::{self, MapCreate, MapFd};
use libtest_mimic::{Arguments, Failed, Trial};
use std::os::fd::AsFd;

type Res = Result<Vec<u8>, i32>;

#[derive(Clone, Debug)]
enum Op {
    Update(Vec<u8>, Vec<u8>, u64),
    Lookup(Vec<u8>),
    Delete(Vec<u8>),
    NextKey(Option<Vec<u8>>),
    LookupAndDelete(Vec<u8>),
    /// Full get_next_key walk.
    Walk,
}

/// How get_next_key results are compared.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Same sequence (arrays, LPM trie, queues).
    Exact,
    /// Same set; single steps by errno only (hash maps).
    Unordered,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn spec(t: MapType, k: u32, v: u32, n: u32, flags: u32) -> MapSpec {
    MapSpec {
        name: "oracle".into(),
        map_type: t as u32,
        key_size: k,
        value_size: v,
        max_entries: n,
        flags,
        ..Default::default()
    }
}

fn kernel_create(s: &MapSpec, inner: Option<&MapFd>) -> Result<MapFd, i32> {
    bpf::map_create(&MapCreate {
        map_type: s.map_type,
        key_size: s.key_size,
        value_size: s.value_size,
        max_entries: s.max_entries,
        flags: s.flags,
        map_extra: s.map_extra,
        name: "oracle",
        inner_map_fd: inner.map(|m| m.fd()),
        ..MapCreate::default()
    })
    .map_err(|e| e.errno().map(|e| e.0).unwrap_or(-1))
}

fn kerr(e: bpf::SysError) -> i32 {
    e.errno().map(|e| e.0).unwrap_or(-1)
}

fn kernel_apply(m: &MapFd, op: &Op) -> Res {
    match op {
        Op::Update(k, v, f) => bpf::map_update(m, k, v, *f).map(|_| vec![]).map_err(kerr),
        Op::Lookup(k) => bpf::map_lookup(m, k, 0).map_err(kerr),
        Op::Delete(k) => bpf::map_delete(m, k).map(|_| vec![]).map_err(kerr),
        Op::NextKey(k) => bpf::map_get_next_key(m, k.as_deref()).map_err(kerr),
        Op::LookupAndDelete(k) => bpf::map_lookup_and_delete(m, k).map_err(kerr),
        Op::Walk => Ok(walk(|k| bpf::map_get_next_key(m, k).map_err(kerr)).concat()),
    }
}

fn ours_apply(r: &MapRegistry, fd: u32, op: &Op) -> Res {
    let e = |e: bpfc_runtime::maps::MapError| e.errno();
    match op {
        Op::Update(k, v, f) => r.update(fd, k, v, *f).map(|_| vec![]).map_err(e),
        Op::Lookup(k) => r.lookup(fd, k).map_err(e),
        Op::Delete(k) => r.delete(fd, k).map(|_| vec![]).map_err(e),
        Op::NextKey(k) => r.get_next_key(fd, k.as_deref()).map_err(e),
        Op::LookupAndDelete(k) => r.lookup_and_delete(fd, k).map_err(e),
        Op::Walk => Ok(walk(|k| r.get_next_key(fd, k).map_err(e)).concat()),
    }
}

fn walk(mut next: impl FnMut(Option<&[u8]>) -> Res) -> Vec<Vec<u8>> {
    let mut keys = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    while let Ok(k) = next(cur.as_deref()) {
        keys.push(k.clone());
        cur = Some(k);
        if keys.len() > 100_000 {
            break;
        }
    }
    keys
}

fn keys_of(walked: &[u8], key_size: usize) -> BTreeSet<Vec<u8>> {
    walked.chunks(key_size.max(1)).map(|c| c.to_vec()).collect()
}

/// Runs `ops` on both sides and compares.
fn compare(s: &MapSpec, ops: &[Op], order: Order, seed: u64) -> Result<(), Failed> {
    let kmap = kernel_create(s, None).map_err(|e| format!("kernel refused the map: errno {e}"))?;
    let reg = MapRegistry::new();
    let fd = reg.create(s.clone()).map_err(|e| format!("we refused the map: {e}"))?;
    for (i, op) in ops.iter().enumerate() {
        // The successor of a present key depends on the kernel's random hash order: only the first-key cases
        // (no key, or an absent one) are comparable, and only by success/errno.
        let present = match op {
            Op::NextKey(Some(key)) if order == Order::Unordered => bpf::map_lookup(&kmap, key, 0).is_ok(),
            _ => false,
        };
        let (k, o) = (kernel_apply(&kmap, op), ours_apply(&reg, fd, op));
        let same = match (order, op) {
            (Order::Unordered, Op::NextKey(_)) if present => true,
            (Order::Unordered, Op::NextKey(_)) => k.is_ok() == o.is_ok() && k.as_ref().err() == o.as_ref().err(),
            (Order::Unordered, Op::Walk) => {
                let ks = s.key_size as usize;
                keys_of(k.as_ref().unwrap(), ks) == keys_of(o.as_ref().unwrap(), ks)
            }
            _ => k == o,
        };
        if !same {
            return Err(format!("seed {seed:#x}: op #{i} {op:?}: kernel {k:?}, ours {o:?}").into());
        }
    }
    Ok(())
}

fn flags(rng: &mut Rng) -> u64 {
    // Mostly valid flags, sometimes BPF_F_LOCK (no spin lock here: -EINVAL) or an unknown value.
    match rng.below(20) {
        0 => 4,
        1 => 3,
        2 => 8,
        n => n % 3,
    }
}

fn keyed_ops(
    rng: &mut Rng,
    n: usize,
    key: &mut dyn FnMut(&mut Rng) -> Vec<u8>,
    vsize: usize,
    and_delete: bool,
) -> Vec<Op> {
    (0..n)
        .map(|_| match rng.below(12) {
            0..=4 => Op::Update(key(rng), rng.bytes(vsize), flags(rng)),
            5..=6 => Op::Lookup(key(rng)),
            7 => Op::Delete(key(rng)),
            8 => Op::NextKey(if rng.below(3) == 0 { None } else { Some(key(rng)) }),
            9 if and_delete => Op::LookupAndDelete(key(rng)),
            _ => Op::Walk,
        })
        .collect()
}

fn u32_key(domain: u64) -> impl FnMut(&mut Rng) -> Vec<u8> {
    move |rng: &mut Rng| (rng.below(domain) as u32).to_le_bytes().to_vec()
}

fn bytes_key(size: usize, domain: u64) -> impl FnMut(&mut Rng) -> Vec<u8> {
    move |rng: &mut Rng| {
        let mut k = vec![0; size];
        let v = rng.below(domain).to_le_bytes();
        for (i, b) in k.iter_mut().enumerate() {
            *b = v[i % 8] ^ (i as u8);
        }
        k
    }
}

fn lpm_key(rng: &mut Rng) -> Vec<u8> {
    // Prefixes over a few related networks so that nesting and siblings occur, plus invalid lengths.
    let bases: [[u8; 4]; 4] = [[10, 0, 0, 0], [10, 1, 0, 0], [10, 128, 7, 0], [192, 168, 1, 0]];
    let plen = match rng.below(16) {
        0 => 33 + rng.below(4) as u32,
        1 => 32,
        _ => [0, 1, 7, 8, 9, 12, 16, 17, 24][rng.below(9) as usize],
    };
    let mut data = bases[rng.below(4) as usize];
    if rng.below(3) == 0 {
        data[3] = rng.next() as u8;
        data[2] ^= (rng.below(2) as u8) << 7;
    }
    let mut k = plen.to_le_bytes().to_vec();
    k.extend_from_slice(&data);
    k
}

fn keyless_ops(rng: &mut Rng, n: usize, vsize: usize) -> Vec<Op> {
    (0..n)
        .map(|_| match rng.below(8) {
            0..=3 => Op::Update(
                vec![],
                rng.bytes(vsize),
                match rng.below(8) {
                    0 => 1,
                    1 => 3,
                    2..=4 => 2,
                    _ => 0,
                },
            ),
            4 => Op::Lookup(vec![]),
            5 => Op::LookupAndDelete(vec![]),
            6 => Op::Delete(vec![]),
            _ => Op::NextKey(None),
        })
        .collect()
}

const SEQ_LEN: usize = 400;

/// Builds one seeded operation sequence.
type OpGen = Box<dyn Fn(&mut Rng) -> Vec<Op> + Send>;

fn seq_trials() -> Vec<Trial> {
    let mut t = Vec::new();
    let mut add = |name: &str, s: MapSpec, order: Order, mk: OpGen| {
        for seed in 1..=3u64 {
            let s = s.clone();
            let gen_seed = seed.wrapping_mul(0x1234_5678_9abc) ^ name.len() as u64;
            let mk = &mk;
            let ops = mk(&mut Rng(gen_seed));
            t.push(Trial::test(format!("seq::{name}::seed{seed}"), move || compare(&s, &ops, order, gen_seed)));
        }
    };
    add(
        "array",
        spec(MapType::Array, 4, 12, 8, 0),
        Order::Exact,
        Box::new(|r| keyed_ops(r, SEQ_LEN, &mut u32_key(11), 12, false)),
    );
    add(
        "array_v1",
        spec(MapType::Array, 4, 1, 3, 0),
        Order::Exact,
        Box::new(|r| keyed_ops(r, SEQ_LEN, &mut u32_key(5), 1, false)),
    );
    add(
        "percpu_array",
        spec(MapType::PercpuArray, 4, 5, 4, 0),
        Order::Exact,
        Box::new(|r| {
            let vs = 8 * bpfc_runtime::maps::possible_cpus() as usize;
            keyed_ops(r, SEQ_LEN, &mut u32_key(6), vs, false)
        }),
    );
    add(
        "hash",
        spec(MapType::Hash, 4, 12, 16, 0),
        Order::Unordered,
        Box::new(|r| keyed_ops(r, SEQ_LEN, &mut u32_key(24), 12, true)),
    );
    add(
        "hash_odd_sizes",
        spec(MapType::Hash, 5, 3, 6, 0),
        Order::Unordered,
        Box::new(|r| keyed_ops(r, SEQ_LEN, &mut bytes_key(5, 10), 3, true)),
    );
    add(
        "hash_no_prealloc",
        spec(MapType::Hash, 8, 8, 8, bpf::BPF_F_NO_PREALLOC),
        Order::Unordered,
        Box::new(|r| keyed_ops(r, SEQ_LEN, &mut bytes_key(8, 14), 8, true)),
    );
    add(
        "percpu_hash",
        spec(MapType::PercpuHash, 4, 4, 8, 0),
        Order::Unordered,
        Box::new(|r| {
            let vs = 8 * bpfc_runtime::maps::possible_cpus() as usize;
            keyed_ops(r, SEQ_LEN, &mut u32_key(12), vs, true)
        }),
    );
    // Within capacity an LRU map behaves as a hash map, so these compare exactly (as key sets).
    add(
        "lru_hash_within_capacity",
        spec(MapType::LruHash, 4, 8, 32, 0),
        Order::Unordered,
        Box::new(|r| keyed_ops(r, SEQ_LEN, &mut u32_key(16), 8, true)),
    );
    add(
        "lru_percpu_hash_within_capacity",
        spec(MapType::LruPercpuHash, 4, 8, 32, 0),
        Order::Unordered,
        Box::new(|r| {
            let vs = 8 * bpfc_runtime::maps::possible_cpus() as usize;
            keyed_ops(r, SEQ_LEN, &mut u32_key(16), vs, true)
        }),
    );
    // Programs fill stack maps; from user space every operation on an empty one is an error.
    add(
        "stack_trace_empty",
        spec(MapType::StackTrace, 4, 16, 3, 0),
        Order::Exact,
        Box::new(|r| keyed_ops(r, 60, &mut u32_key(6), 16, false)),
    );
    add("queue", spec(MapType::Queue, 0, 6, 5, 0), Order::Exact, Box::new(|r| keyless_ops(r, SEQ_LEN, 6)));
    add("stack", spec(MapType::Stack, 0, 6, 5, 0), Order::Exact, Box::new(|r| keyless_ops(r, SEQ_LEN, 6)));
    add(
        "lpm_trie",
        spec(MapType::LpmTrie, 8, 4, 10, bpf::BPF_F_NO_PREALLOC),
        Order::Exact,
        Box::new(|r| {
            (0..SEQ_LEN)
                .map(|_| match r.below(10) {
                    0..=3 => Op::Update(lpm_key(r), r.bytes(4), r.below(4)),
                    4..=5 => Op::Lookup(lpm_key(r)),
                    6 => Op::Delete(lpm_key(r)),
                    7 => Op::NextKey(if r.below(3) == 0 { None } else { Some(lpm_key(r)) }),
                    _ => Op::Walk,
                })
                .collect()
        }),
    );
    t
}

fn create_trials() -> Vec<Trial> {
    let cases: Vec<(&str, MapSpec)> = vec![
        ("array_key8", spec(MapType::Array, 8, 4, 1, 0)),
        ("array_value0", spec(MapType::Array, 4, 0, 1, 0)),
        ("array_max0", spec(MapType::Array, 4, 4, 0, 0)),
        ("array_no_prealloc", spec(MapType::Array, 4, 4, 1, bpf::BPF_F_NO_PREALLOC)),
        ("array_rdonly_wronly", spec(MapType::Array, 4, 4, 1, (1 << 3) | (1 << 4))),
        ("percpu_array_value_40k", spec(MapType::PercpuArray, 4, 40 << 10, 1, 0)),
        ("hash_key0", spec(MapType::Hash, 0, 4, 1, 0)),
        ("hash_value0", spec(MapType::Hash, 4, 0, 1, 0)),
        ("hash_max0", spec(MapType::Hash, 4, 4, 0, 0)),
        ("hash_no_common_lru", spec(MapType::Hash, 4, 4, 1, 2)),
        ("hash_mmapable", spec(MapType::Hash, 4, 4, 1, 1 << 10)),
        ("lru_no_prealloc", spec(MapType::LruHash, 4, 4, 1, bpf::BPF_F_NO_PREALLOC)),
        ("percpu_hash_value_40k", spec(MapType::PercpuHash, 4, 40 << 10, 1, 0)),
        ("queue_key4", spec(MapType::Queue, 4, 4, 1, 0)),
        ("queue_value0", spec(MapType::Queue, 0, 0, 1, 0)),
        ("stack_max0", spec(MapType::Stack, 0, 4, 0, 0)),
        ("lpm_prealloc", spec(MapType::LpmTrie, 8, 4, 1, 0)),
        ("lpm_key4", spec(MapType::LpmTrie, 4, 4, 1, bpf::BPF_F_NO_PREALLOC)),
        ("lpm_key261", spec(MapType::LpmTrie, 261, 4, 1, bpf::BPF_F_NO_PREALLOC)),
        ("lpm_value0", spec(MapType::LpmTrie, 8, 0, 1, bpf::BPF_F_NO_PREALLOC)),
        ("ringbuf_not_pow2", spec(MapType::RingBuf, 0, 0, 12288, 0)),
        ("ringbuf_not_page", spec(MapType::RingBuf, 0, 0, 1024, 0)),
        ("ringbuf_key4", spec(MapType::RingBuf, 4, 0, 4096, 0)),
        ("prog_array_value8", spec(MapType::ProgArray, 4, 8, 1, 0)),
        ("perf_event_array_key8", spec(MapType::PerfEventArray, 8, 4, 1, 0)),
        ("bloom_key4", spec(MapType::BloomFilter, 4, 4, 1, 0)),
        ("bloom_extra16", MapSpec { map_extra: 16, ..spec(MapType::BloomFilter, 0, 4, 1, 0) }),
        ("stack_trace_value12", spec(MapType::StackTrace, 4, 12, 4, 0)),
        ("stack_trace_key8", spec(MapType::StackTrace, 8, 16, 4, 0)),
        ("stack_trace_too_deep", spec(MapType::StackTrace, 4, 8 * 128, 4, 0)),
        ("stack_trace_ok", spec(MapType::StackTrace, 4, 16, 3, 0)),
        ("array_ok", spec(MapType::Array, 4, 4, 1, 0)),
        ("ringbuf_ok", spec(MapType::RingBuf, 0, 0, 8192, 0)),
        ("bloom_ok", spec(MapType::BloomFilter, 0, 8, 100, 0)),
        ("lpm_ok", spec(MapType::LpmTrie, 20, 4, 5, bpf::BPF_F_NO_PREALLOC)),
    ];
    cases
        .into_iter()
        .map(|(name, s)| {
            Trial::test(format!("create::{name}"), move || {
                let k = kernel_create(&s, None).map(|_| ());
                let o = MapRegistry::new().create(s.clone()).map(|_| ()).map_err(|e| e.errno());
                if k != o {
                    return Err(format!("{s:?}: kernel {k:?}, ours {o:?}").into());
                }
                Ok(())
            })
        })
        .collect()
}

/// LRU overflow: properties that hold for both implementations.
fn lru_overflow(percpu: bool) -> Result<(), Failed> {
    let t = if percpu { MapType::LruPercpuHash } else { MapType::LruHash };
    let s = spec(t, 4, 8, 64, 0);
    let kmap = kernel_create(&s, None).map_err(|e| format!("kernel refused: {e}"))?;
    let reg = MapRegistry::new();
    let fd = reg.create(s.clone())?;
    let vs = reg.get(fd)?.host_value_size();
    for i in 0..1000u32 {
        let (k, v) = (i.to_le_bytes(), vec![i as u8; vs]);
        bpf::map_update(&kmap, &k, &v, 0).map_err(|e| format!("kernel update {i}: {e}"))?;
        reg.update(fd, &k, &v, 0)?;
        for (side, walked, newest) in [
            ("kernel", walk(|k| bpf::map_get_next_key(&kmap, k).map_err(kerr)), bpf::map_lookup(&kmap, &k, 0).ok()),
            ("ours", walk(|k| reg.get_next_key(fd, k).map_err(|e| e.errno())), reg.lookup(fd, &k).ok()),
        ] {
            if walked.len() > 64 {
                return Err(format!("{side}: {} elements in a 64-entry LRU map after insert {i}", walked.len()).into());
            }
            if newest.as_deref() != Some(&v[..]) {
                return Err(format!("{side}: newest element {i} missing or wrong").into());
            }
        }
    }
    // Ours is an exact LRU: full, and holds exactly the 64 newest keys.
    let ours: BTreeSet<Vec<u8>> = walk(|k| reg.get_next_key(fd, k).map_err(|e| e.errno())).into_iter().collect();
    let want: BTreeSet<Vec<u8>> = (936..1000u32).map(|i| i.to_le_bytes().to_vec()).collect();
    if ours != want {
        return Err("our LRU map does not hold exactly the 64 newest keys".into());
    }
    Ok(())
}

/// Array of maps and hash of maps: template checks and fd handling.
fn map_in_map(outer_type: MapType) -> Result<(), Failed> {
    let inner_spec = spec(MapType::Array, 4, 4, 2, 0);
    let other_spec = spec(MapType::Array, 4, 8, 2, 0);
    let bigger_spec = spec(MapType::Array, 4, 4, 3, 0);
    let kin = kernel_create(&inner_spec, None).map_err(|e| format!("kernel inner: {e}"))?;
    let kother = kernel_create(&other_spec, None).map_err(|e| format!("kernel other: {e}"))?;
    let kbig = kernel_create(&bigger_spec, None).map_err(|e| format!("kernel big: {e}"))?;
    let outer = spec(outer_type, 4, 4, 4, 0);
    let kout = kernel_create(&outer, Some(&kin)).map_err(|e| format!("kernel outer: {e}"))?;
    let reg = MapRegistry::new();
    let (oin, oother, obig) = (reg.create(inner_spec)?, reg.create(other_spec)?, reg.create(bigger_spec)?);
    let oout = reg.create(MapSpec { inner_map_fd: Some(oin), ..outer })?;
    let fdv = |m: &MapFd| (std::os::fd::AsRawFd::as_raw_fd(&m.as_fd()) as u32).to_le_bytes().to_vec();
    // (key, kernel value, our value, flags)
    type Step = (Vec<u8>, Vec<u8>, Vec<u8>, u64);
    let steps: Vec<Step> = vec![
        (0u32.to_le_bytes().to_vec(), fdv(&kin), oin.to_le_bytes().to_vec(), 0),
        (1u32.to_le_bytes().to_vec(), fdv(&kother), oother.to_le_bytes().to_vec(), 0),
        (1u32.to_le_bytes().to_vec(), fdv(&kbig), obig.to_le_bytes().to_vec(), 0),
        (2u32.to_le_bytes().to_vec(), fdv(&kin), oin.to_le_bytes().to_vec(), 1),
        (7u32.to_le_bytes().to_vec(), fdv(&kin), oin.to_le_bytes().to_vec(), 0),
    ];
    for (i, (key, kv, ov, flags)) in steps.iter().enumerate() {
        let k = bpf::map_update(&kout, key, kv, *flags).map_err(kerr);
        let o = reg.update(oout, key, ov, *flags).map_err(|e| e.errno());
        if k != o {
            return Err(format!("step {i}: update kernel {k:?}, ours {o:?}").into());
        }
    }
    for i in 0..5u32 {
        let key = i.to_le_bytes();
        let k = bpf::map_lookup(&kout, &key, 0).map(|_| ()).map_err(kerr);
        let o = reg.lookup(oout, &key).map(|_| ()).map_err(|e| e.errno());
        if k != o {
            return Err(format!("lookup {i}: kernel {k:?}, ours {o:?}").into());
        }
        let k = bpf::map_delete(&kout, &key).map_err(kerr);
        let o = reg.delete(oout, &key).map_err(|e| e.errno());
        if k != o {
            return Err(format!("delete {i}: kernel {k:?}, ours {o:?}").into());
        }
    }
    Ok(())
}

fn bloom() -> Result<(), Failed> {
    let s = spec(MapType::BloomFilter, 0, 8, 64, 0);
    let kmap = kernel_create(&s, None).map_err(|e| format!("kernel: {e}"))?;
    let reg = MapRegistry::new();
    let fd = reg.create(s)?;
    let mut rng = Rng(0xb100);
    let vals: Vec<Vec<u8>> = (0..64).map(|_| rng.bytes(8)).collect();
    for (i, v) in vals.iter().enumerate() {
        for flags in [1u64, 2, 0] {
            let k = bpf::map_update(&kmap, &[], v, flags).map_err(kerr);
            let o = reg.update(fd, &[], v, flags).map_err(|e| e.errno());
            if k != o {
                return Err(format!("push {i} flags {flags}: kernel {k:?}, ours {o:?}").into());
            }
        }
    }
    let m = reg.get(fd)?;
    for v in &vals {
        let k = bpf::map_lookup_into(&kmap, &[], &mut v.clone(), 0).map_err(kerr);
        let o = m.peek(v).map(|_| ()).map_err(|e| e.errno());
        if k != o {
            return Err(format!("peek member: kernel {k:?}, ours {o:?}").into());
        }
    }
    let k = bpf::map_delete(&kmap, &[]).map_err(kerr);
    let o = reg.delete(fd, &[]).map_err(|e| e.errno());
    if k != o {
        return Err(format!("delete: kernel {k:?}, ours {o:?}").into());
    }
    Ok(())
}

/// Our `jhash2` (stack ids) is the kernel's: a `BPF_F_ZERO_SEED` hash map walks its buckets in index
/// order, bucket = jhash2(key, 0) & (n_buckets - 1), so the kernel's walk must visit keys in ascending
/// bucket order as we compute them.
fn jhash2_matches_kernel() -> Result<(), Failed> {
    let s = spec(MapType::Hash, 8, 8, 1024, 1 << 6);
    let kmap = kernel_create(&s, None).map_err(|e| format!("kernel: errno {e}"))?;
    let mut rng = Rng(0x1a5b);
    for _ in 0..200 {
        bpf::map_update(&kmap, &rng.bytes(8), &[0; 8], 0).map_err(|e| format!("{e}"))?;
    }
    let walked = walk(|k| bpf::map_get_next_key(&kmap, k).map_err(kerr));
    let buckets: Vec<u32> = walked
        .iter()
        .map(|k| {
            let words: Vec<u32> = k.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
            bpfc_runtime::maps::jhash2(&words, 0) & 1023
        })
        .collect();
    if walked.len() != 200 || buckets.windows(2).any(|w| w[0] > w[1]) {
        return Err(format!("kernel walk is not in our bucket order: {buckets:?}").into());
    }
    Ok(())
}

/// Our raw dump is `bpftool map dump` of the kernel's map with the same contents, byte for byte.
fn dump_matches_bpftool(s: MapSpec, elems: Vec<(Vec<u8>, Vec<u8>)>) -> Result<(), Failed> {
    let kmap = kernel_create(&s, None).map_err(|e| format!("kernel: errno {e}"))?;
    let reg = MapRegistry::new();
    let fd = reg.create(s.clone())?;
    for (k, v) in &elems {
        bpf::map_update(&kmap, k, v, 0).map_err(|e| format!("kernel update: {e}"))?;
        reg.update(fd, k, v, 0)?;
    }
    let out = std::process::Command::new("bpftool")
        .args(["map", "dump", "id", &kmap.info().id.to_string()])
        .output()
        .map_err(|e| format!("cannot run bpftool (needed as the dump oracle): {e}"))?;
    // bpftool exits non-zero after dumping a keyless map (get_next_key fails) but still prints the footer.
    if out.stdout.is_empty() {
        return Err(format!("bpftool printed nothing: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let want = String::from_utf8_lossy(&out.stdout).into_owned();
    let ours = reg.get(fd)?.dump(None);
    if ours != want {
        return Err(format!("bpftool:\n{want}\nours:\n{ours}").into());
    }
    Ok(())
}

/// After `BPF_MAP_FREEZE` the host gets -EPERM for writes and for a second freeze; reads still work.
fn freeze() -> Result<(), Failed> {
    let s = spec(MapType::Hash, 4, 4, 4, 0);
    let kmap = kernel_create(&s, None).map_err(|e| format!("kernel: errno {e}"))?;
    let reg = MapRegistry::new();
    let fd = reg.create(s)?;
    let both = |what: &str, k: Result<(), i32>, o: Result<(), i32>| -> Result<(), Failed> {
        if k != o {
            return Err(format!("{what}: kernel {k:?}, ours {o:?}").into());
        }
        Ok(())
    };
    both(
        "update",
        bpf::map_update(&kmap, &k32(1), &k32(1), 0).map_err(kerr),
        reg.update(fd, &k32(1), &k32(1), 0).map_err(|e| e.errno()),
    )?;
    both("freeze", bpf::map_freeze(&kmap).map_err(kerr), reg.freeze(fd).map_err(|e| e.errno()))?;
    both("freeze again", bpf::map_freeze(&kmap).map_err(kerr), reg.freeze(fd).map_err(|e| e.errno()))?;
    both(
        "update frozen",
        bpf::map_update(&kmap, &k32(2), &k32(2), 0).map_err(kerr),
        reg.update(fd, &k32(2), &k32(2), 0).map_err(|e| e.errno()),
    )?;
    both(
        "delete frozen",
        bpf::map_delete(&kmap, &k32(1)).map_err(kerr),
        reg.delete(fd, &k32(1)).map_err(|e| e.errno()),
    )?;
    both(
        "lookup frozen",
        bpf::map_lookup(&kmap, &k32(1), 0).map(|_| ()).map_err(kerr),
        reg.lookup(fd, &k32(1)).map(|_| ()).map_err(|e| e.errno()),
    )?;
    Ok(())
}

fn dump_trials() -> Vec<Trial> {
    let ncpus = bpfc_runtime::maps::possible_cpus() as usize;
    let bytes = |n: usize, seed: u8| (0..n).map(|i| seed.wrapping_add((i as u8).wrapping_mul(7))).collect::<Vec<u8>>();
    let percpu =
        |vs: usize| (0..ncpus).flat_map(|c| bytes(8 * vs.div_ceil(8), 0x10 * (c as u8 + 1))).collect::<Vec<u8>>();
    type DumpCase = (&'static str, MapSpec, Vec<(Vec<u8>, Vec<u8>)>);
    let cases: Vec<DumpCase> = vec![
        ("array_k4_v8", spec(MapType::Array, 4, 8, 3, 0), vec![(k32(1), bytes(8, 1))]),
        ("array_k4_v12", spec(MapType::Array, 4, 12, 2, 0), vec![(k32(0), bytes(12, 3))]),
        ("array_k4_v17", spec(MapType::Array, 4, 17, 1, 0), vec![(k32(0), bytes(17, 5))]),
        ("hash_k20_v40", spec(MapType::Hash, 20, 40, 2, 0), vec![(bytes(20, 9), bytes(40, 11))]),
        ("hash_k8_v16", spec(MapType::Hash, 8, 16, 2, 0), vec![(bytes(8, 13), bytes(16, 15))]),
        ("hash_k12_v16", spec(MapType::Hash, 12, 16, 2, 0), vec![(bytes(12, 17), bytes(16, 19))]),
        ("percpu_array_v4", spec(MapType::PercpuArray, 4, 4, 1, 0), vec![(k32(0), percpu(4))]),
        ("percpu_hash_v20", spec(MapType::PercpuHash, 4, 20, 2, 0), vec![(k32(7), percpu(20))]),
        ("queue", spec(MapType::Queue, 0, 4, 2, 0), vec![(vec![], bytes(4, 1))]),
        ("empty_hash", spec(MapType::Hash, 4, 4, 2, 0), vec![]),
    ];
    cases
        .into_iter()
        .map(|(name, s, elems)| {
            Trial::test(format!("dump::{name}"), move || dump_matches_bpftool(s.clone(), elems.clone()))
        })
        .collect()
}

fn k32(i: u32) -> Vec<u8> {
    i.to_le_bytes().to_vec()
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    match bpf::kernel_bpf_available() {
        Ok(()) => {
            trials.extend(create_trials());
            trials.extend(seq_trials());
            trials.extend(dump_trials());
            trials.push(Trial::test("freeze::host_writes_refused", freeze));
            trials.push(Trial::test("lru::overflow_properties", || lru_overflow(false)));
            trials.push(Trial::test("lru::percpu_overflow_properties", || lru_overflow(true)));
            trials.push(Trial::test("map_in_map::array_of_maps", || map_in_map(MapType::ArrayOfMaps)));
            trials.push(Trial::test("map_in_map::hash_of_maps", || map_in_map(MapType::HashOfMaps)));
            trials.push(Trial::test("bloom_filter::members", bloom));
            trials.push(Trial::test("stack_trace::jhash2_matches_kernel", jhash2_matches_kernel));
        }
        Err(why) => {
            eprintln!("SKIP-IS-FAILURE: kernel bpf() unusable: {why}");
            trials.push(Trial::test("kernel_bpf_available", move || Err(why.clone().into())));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
