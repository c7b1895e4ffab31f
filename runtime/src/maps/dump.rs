//! `bpftool map dump` output for maps without BTF, byte for byte: hex bytes in groups of 8 (two spaces
//! between groups, 16 per line), `key: … value: …` on one line when both are small, split names when
//! either exceeds 16 bytes, per-CPU maps as one `value (CPU NN):` line per CPU, and the `Found N
//! element(s)` footer. Keyless maps (queue, stack, ring buffer, bloom filter) have no `get_next_key`, so
//! bpftool — and this — finds 0 elements. A BTF-aware formatter can replace the per-element text.

use super::{ElemFormatter, Map, round8};

/// Hex bytes as bpftool's `fprint_hex` prints them.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 3);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push_str(if i % 16 == 0 {
                "\n"
            } else if i % 8 == 0 {
                "  "
            } else {
                " "
            });
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

impl Map {
    /// The dump `bpftool map dump` prints for this map without BTF. `fmt` formats one (key, host value)
    /// element instead (the BTF-typed printer plugs in here); its text is followed by a newline.
    pub fn dump(&self, fmt: Option<&ElemFormatter>) -> String {
        let mut s = String::new();
        let elems = if self.spec().key_size == 0 { Vec::new() } else { self.iterate() };
        let (ks, vs) = (self.spec().key_size as usize, self.spec().value_size as usize);
        for (k, v) in &elems {
            if let Some(f) = fmt {
                s.push_str(&f(k, v));
                s.push('\n');
            } else if self.map_type().is_percpu() {
                s.push_str(&format!("key:\n{}\n", hex(k)));
                let stride = round8(vs);
                for cpu in 0..self.ncpus() as usize {
                    let sep = if vs > 16 { '\n' } else { ' ' };
                    s.push_str(&format!("value (CPU {cpu:02}):{sep}{}\n", hex(&v[cpu * stride..cpu * stride + vs])));
                }
            } else {
                let break_names = ks > 16 || vs > 16;
                let single_line = ks + vs <= 24 && !break_names;
                let sep = if break_names { '\n' } else { ' ' };
                s.push_str(&format!("key:{sep}{}", hex(k)));
                s.push_str(if single_line { "  " } else { "\n" });
                s.push_str(&format!("value:{sep}{}\n", hex(v)));
            }
        }
        let n = elems.len();
        s.push_str(&format!("Found {n} element{}\n", if n == 1 { "" } else { "s" }));
        s
    }
}
