//! Micro-benchmarks of the program-side map paths, for the bench harness: ns per `bpf_map_lookup_elem` /
//! `bpf_map_update_elem` as helpers perform them (key copy excluded), over `keys` distinct keys.

use std::time::Instant;

use super::{BPF_ANY, MapRegistry, MapResult, MapSpec, MapType};

/// Measured cost of one operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapBench {
    /// Nanoseconds per lookup.
    pub lookup_ns: f64,
    /// Nanoseconds per update of an existing key.
    pub update_ns: f64,
}

/// Times `iters` lookups and `iters` updates on a fresh `map_type` map (key 4 bytes, value 8 bytes,
/// `keys` entries, all present), on CPU slot 0.
pub fn bench_lookup_update(map_type: MapType, keys: u32, iters: u64) -> MapResult<MapBench> {
    let reg = MapRegistry::with_cpus(1);
    let spec = MapSpec {
        name: "bench".into(),
        map_type: map_type as u32,
        key_size: 4,
        value_size: 8,
        max_entries: keys.max(1),
        ..Default::default()
    };
    let fd = reg.create(spec)?;
    let m = reg.get(fd)?;
    let keys = keys.max(1);
    for k in 0..keys {
        m.prog_update(&k.to_le_bytes(), &u64::from(k).to_le_bytes(), BPF_ANY, 0)?;
    }
    let key_bytes: Vec<[u8; 4]> = (0..keys).map(|k| k.to_le_bytes()).collect();
    let start = Instant::now();
    let mut sink = 0u64;
    for i in 0..iters {
        let k = &key_bytes[(i % keys as u64) as usize];
        sink = sink.wrapping_add(m.prog_lookup(k, 0).map_or(0, |f| f.addr()));
    }
    let lookup_ns = start.elapsed().as_nanos() as f64 / iters.max(1) as f64;
    std::hint::black_box(sink);
    let start = Instant::now();
    for i in 0..iters {
        let k = &key_bytes[(i % keys as u64) as usize];
        m.prog_update(k, &i.to_le_bytes(), BPF_ANY, 0)?;
    }
    let update_ns = start.elapsed().as_nanos() as f64 / iters.max(1) as f64;
    Ok(MapBench { lookup_ns, update_ns })
}
