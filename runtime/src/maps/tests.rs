//! Unit tests of map semantics that need no kernel; the same semantics are checked against the kernel's
//! own maps in testsuite/tests/maps_kernel.rs.

use super::*;

fn spec(t: MapType, k: u32, v: u32, n: u32, flags: u32) -> MapSpec {
    MapSpec {
        name: "t".into(),
        map_type: t as u32,
        key_size: k,
        value_size: v,
        max_entries: n,
        flags,
        ..Default::default()
    }
}

fn k32(i: u32) -> Vec<u8> {
    i.to_le_bytes().to_vec()
}

#[test]
fn array_flags_and_bounds() {
    let r = MapRegistry::with_cpus(2);
    let fd = r.create(spec(MapType::Array, 4, 6, 3, 0)).unwrap();
    assert_eq!(r.update(fd, &k32(3), &[1; 6], BPF_ANY), Err(MapError::TooBig { what: "array index" }));
    assert_eq!(r.update(fd, &k32(1), &[1; 6], BPF_NOEXIST), Err(MapError::Exists));
    assert_eq!(r.update(fd, &k32(1), &[1; 6], 3).unwrap_err().errno(), errno::EINVAL);
    r.update(fd, &k32(1), &[7; 6], BPF_EXIST).unwrap();
    assert_eq!(r.lookup(fd, &k32(1)).unwrap(), [7; 6]);
    assert_eq!(r.lookup(fd, &k32(9)), Err(MapError::NotFound));
    assert_eq!(r.delete(fd, &k32(0)).unwrap_err().errno(), errno::EINVAL);
    assert_eq!(r.get_next_key(fd, None).unwrap(), k32(0));
    assert_eq!(r.get_next_key(fd, Some(&k32(99))).unwrap(), k32(0));
    assert_eq!(r.get_next_key(fd, Some(&k32(1))).unwrap(), k32(2));
    assert_eq!(r.get_next_key(fd, Some(&k32(2))), Err(MapError::NotFound));
    let m = r.get(fd).unwrap();
    assert_eq!(m.values_base(), Some(m.prog_lookup(&k32(0), 0).unwrap().addr()));
    assert_eq!(m.prog_lookup(&k32(1), 0).unwrap().addr() - m.values_base().unwrap(), 8);
}

#[test]
fn percpu_array_layout() {
    let r = MapRegistry::with_cpus(3);
    let fd = r.create(spec(MapType::PercpuArray, 4, 4, 2, 0)).unwrap();
    let m = r.get(fd).unwrap();
    assert_eq!(m.host_value_size(), 24);
    m.prog_update(&k32(1), &[5, 0, 0, 0], BPF_ANY, 1).unwrap();
    assert_eq!(
        r.lookup(fd, &k32(1)).unwrap(),
        [0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_ne!(m.prog_lookup(&k32(1), 0), m.prog_lookup(&k32(1), 1));
    assert_eq!(m.values_base(), None);
}

#[test]
fn hash_flags_full_and_walk() {
    let r = MapRegistry::with_cpus(1);
    let fd = r.create(spec(MapType::Hash, 4, 8, 2, 0)).unwrap();
    assert_eq!(r.update(fd, &k32(1), &[1; 8], BPF_EXIST), Err(MapError::NotFound));
    r.update(fd, &k32(1), &[1; 8], BPF_NOEXIST).unwrap();
    assert_eq!(r.update(fd, &k32(1), &[1; 8], BPF_NOEXIST), Err(MapError::Exists));
    r.update(fd, &k32(2), &[2; 8], BPF_ANY).unwrap();
    assert_eq!(r.update(fd, &k32(3), &[3; 8], BPF_ANY), Err(MapError::TooBig { what: "hash map full" }));
    // Replacing in a full map works.
    r.update(fd, &k32(2), &[4; 8], BPF_ANY).unwrap();
    let m = r.get(fd).unwrap();
    let p = m.prog_lookup(&k32(2), 0).unwrap();
    r.update(fd, &k32(2), &[5; 8], BPF_EXIST).unwrap();
    assert_eq!(m.prog_lookup(&k32(2), 0).unwrap(), p, "in-place update keeps the value address");
    let first = r.get_next_key(fd, None).unwrap();
    let second = r.get_next_key(fd, Some(&first)).unwrap();
    assert_eq!(r.get_next_key(fd, Some(&second)), Err(MapError::NotFound));
    let mut keys = vec![first, second];
    keys.sort();
    assert_eq!(keys, [k32(1), k32(2)]);
    r.delete(fd, &k32(1)).unwrap();
    assert_eq!(r.delete(fd, &k32(1)), Err(MapError::NotFound));
    assert_eq!(r.lookup_and_delete(fd, &k32(2)).unwrap(), [5; 8]);
    assert_eq!(r.get_next_key(fd, None), Err(MapError::NotFound));
}

#[test]
fn lru_evicts_least_recently_used() {
    let r = MapRegistry::with_cpus(1);
    let fd = r.create(spec(MapType::LruHash, 4, 4, 3, 0)).unwrap();
    let m = r.get(fd).unwrap();
    for i in 0..3 {
        r.update(fd, &k32(i), &k32(i), BPF_ANY).unwrap();
    }
    m.prog_lookup(&k32(0), 0).unwrap();
    r.update(fd, &k32(3), &k32(3), BPF_NOEXIST).unwrap();
    assert_eq!(r.lookup(fd, &k32(1)), Err(MapError::NotFound));
    for i in [0, 2, 3] {
        assert_eq!(r.lookup(fd, &k32(i)).unwrap(), k32(i));
    }
}

#[test]
fn queue_and_stack_order() {
    let r = MapRegistry::with_cpus(1);
    let q = r.create(spec(MapType::Queue, 0, 4, 2, 0)).unwrap();
    let s = r.create(spec(MapType::Stack, 0, 4, 2, 0)).unwrap();
    for fd in [q, s] {
        let m = r.get(fd).unwrap();
        m.push(&k32(1), BPF_ANY).unwrap();
        m.push(&k32(2), BPF_ANY).unwrap();
        assert_eq!(m.push(&k32(3), BPF_ANY), Err(MapError::TooBig { what: "queue/stack full" }));
        assert_eq!(m.push(&k32(3), BPF_NOEXIST).unwrap_err().errno(), errno::EINVAL);
        m.push(&k32(3), BPF_EXIST).unwrap();
    }
    let (mq, ms) = (r.get(q).unwrap(), r.get(s).unwrap());
    assert_eq!(mq.pop().unwrap(), k32(2));
    assert_eq!(ms.pop().unwrap(), k32(3));
    assert_eq!(ms.pop().unwrap(), k32(2));
    assert_eq!(ms.pop(), Err(MapError::NotFound));
}

fn lpm_key(plen: u32, data: [u8; 4]) -> Vec<u8> {
    let mut k = plen.to_le_bytes().to_vec();
    k.extend_from_slice(&data);
    k
}

#[test]
fn lpm_longest_match_and_post_order() {
    let r = MapRegistry::with_cpus(1);
    assert_eq!(r.create(spec(MapType::LpmTrie, 8, 4, 8, 0)).unwrap_err().errno(), errno::EINVAL);
    let fd = r.create(spec(MapType::LpmTrie, 8, 4, 3, BPF_F_NO_PREALLOC)).unwrap();
    r.update(fd, &lpm_key(8, [10, 0, 0, 0]), &k32(8), BPF_ANY).unwrap();
    r.update(fd, &lpm_key(16, [10, 1, 0, 0]), &k32(16), BPF_ANY).unwrap();
    r.update(fd, &lpm_key(9, [10, 128, 0, 0]), &k32(9), BPF_ANY).unwrap();
    assert_eq!(r.update(fd, &lpm_key(24, [1, 1, 1, 0]), &k32(0), BPF_ANY), Err(MapError::NoSpace));
    assert_eq!(r.update(fd, &lpm_key(33, [1, 1, 1, 0]), &k32(0), BPF_ANY).unwrap_err().errno(), errno::EINVAL);
    assert_eq!(r.lookup(fd, &lpm_key(32, [10, 1, 2, 3])).unwrap(), k32(16));
    assert_eq!(r.lookup(fd, &lpm_key(32, [10, 200, 2, 3])).unwrap(), k32(9));
    assert_eq!(r.lookup(fd, &lpm_key(32, [10, 2, 2, 3])).unwrap(), k32(8));
    assert_eq!(r.lookup(fd, &lpm_key(32, [11, 2, 2, 3])), Err(MapError::NotFound));
    // Post-order: 10.1/16 (under the 0 branch of 10/8), then 10.128/9, then 10/8.
    let a = r.get_next_key(fd, None).unwrap();
    assert_eq!(a, lpm_key(16, [10, 1, 0, 0]));
    let b = r.get_next_key(fd, Some(&a)).unwrap();
    assert_eq!(b, lpm_key(9, [10, 128, 0, 0]));
    let c = r.get_next_key(fd, Some(&b)).unwrap();
    assert_eq!(c, lpm_key(8, [10, 0, 0, 0]));
    assert_eq!(r.get_next_key(fd, Some(&c)), Err(MapError::NotFound));
}

#[test]
fn ringbuf_reserve_submit_discard_and_wrap() {
    let r = MapRegistry::with_cpus(1);
    let fd = r.create(spec(MapType::RingBuf, 0, 0, 4096, 0)).unwrap();
    let m = r.get(fd).unwrap();
    let rb = m.ringbuf().unwrap();
    let a = rb.reserve(10, 0).unwrap();
    let b = rb.reserve(3, 0).unwrap();
    assert_eq!(b - a, 24);
    assert!(rb.reserve(4096, 0).is_none());
    rb.commit(b, false).unwrap();
    assert!(rb.drain().is_empty(), "a busy record blocks the consumer");
    rb.commit(a, true).unwrap();
    assert_eq!(rb.commit(a, false).unwrap_err().errno(), errno::EINVAL);
    assert_eq!(rb.drain().len(), 1);
    for i in 0..1000u32 {
        rb.output(&i.to_le_bytes(), 0).unwrap();
        assert_eq!(rb.drain(), [RingRecord { data: i.to_le_bytes().to_vec() }]);
    }
    assert_eq!(rb.query(BPF_RB_AVAIL_DATA_Q), 0);
    for _ in 0..(4096 / 16 - 1) {
        rb.output(&[1; 8], 0).unwrap();
    }
    assert_eq!(rb.output(&[1; 8], 0), Err(MapError::Again));
}
const BPF_RB_AVAIL_DATA_Q: u64 = 0;

#[test]
fn map_in_map_checks_template() {
    let r = MapRegistry::with_cpus(1);
    let inner = r.create(spec(MapType::Array, 4, 4, 1, 0)).unwrap();
    let other = r.create(spec(MapType::Array, 4, 8, 1, 0)).unwrap();
    let mut s = spec(MapType::ArrayOfMaps, 4, 4, 2, 0);
    s.inner_map_fd = Some(inner);
    let outer = r.create(s).unwrap();
    assert_eq!(r.update(outer, &k32(0), &k32(other), BPF_ANY).unwrap_err().errno(), errno::EINVAL);
    assert_eq!(r.update(outer, &k32(0), &k32(99), BPF_ANY).unwrap_err().errno(), errno::EBADF);
    r.update(outer, &k32(0), &k32(inner), BPF_ANY).unwrap();
    let m = r.get(outer).unwrap();
    let h = m.prog_lookup(&k32(0), 0).unwrap();
    assert_eq!(h, Found::Map(r.get(inner).unwrap().handle_addr()));
    assert!(r.by_handle(h.addr()).is_some());
    assert_eq!(r.lookup(outer, &k32(0)).unwrap(), k32(inner));
    assert_eq!(m.prog_lookup(&k32(1), 0), None);
}

#[test]
fn bloom_filter_has_no_false_negatives() {
    let r = MapRegistry::with_cpus(1);
    let fd = r.create(spec(MapType::BloomFilter, 0, 4, 100, 0)).unwrap();
    let m = r.get(fd).unwrap();
    for i in 0..100 {
        m.push(&k32(i), BPF_ANY).unwrap();
    }
    for i in 0..100 {
        assert!(m.peek(&k32(i)).is_ok());
    }
    let fp = (1000..2000).filter(|&i| m.peek(&k32(i)).is_ok()).count();
    assert!(fp < 100, "{fp} false positives in 1000");
}

#[test]
fn bench_runs_on_hash_and_array() {
    for t in [MapType::Hash, MapType::Array, MapType::LruHash] {
        let b = bench::bench_lookup_update(t, 1024, 200_000).unwrap();
        eprintln!("bench {t:?}: lookup {:.1} ns/op, update {:.1} ns/op", b.lookup_ns, b.update_ns);
        assert!(b.lookup_ns > 0.0 && b.update_ns > 0.0, "{t:?}: {b:?}");
    }
}
