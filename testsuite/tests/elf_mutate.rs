//! Seeded mutation test of the object reader, the stable-toolchain twin of the `elf_parse` fuzz target:
//! every example object (and every file in `testsuite/elf-bad/`) is mutated `BPFC_MUTATIONS` times in
//! total (default 100,000) and each mutant is read with `Object::parse` and listed with
//! `listing::sections`; any panic fails the trial, printing the seed and iteration so the case replays
//! (`BPFC_MUTATE_SEED=S`), and writes the input to `testsuite/elf-bad/crashers/` when
//! `BPFC_SAVE_CRASHERS` is set.
//!
//! Mutations are structure-aware where it pays: half of them hit the ELF header, the section header
//! table, or the `.BTF`, `.BTF.ext`, `.symtab` and relocation sections (found with a few fixed ELF64
//! offsets, independent of the reader), with "interesting" values (0, -1, sizes, offsets just past the
//! end) at 1/2/4/8-byte widths; the rest flip random bits, truncate, or duplicate chunks.

mod elf_common;

use bpfc_compiler::btf::Btf;
use bpfc_compiler::elf::{LoadOptions, Object, TargetBtf, listing};
use elf_common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// Byte ranges worth aiming at: header, section headers, and metadata sections.
fn hot_ranges(b: &[u8]) -> Vec<(usize, usize)> {
    let mut v = vec![(0, 64.min(b.len()))];
    if b.len() < 64 {
        return v;
    }
    let rd = |o: usize, n: usize| -> Option<u64> {
        let s = b.get(o..o + n)?;
        let mut x = [0u8; 8];
        x[..n].copy_from_slice(s);
        Some(u64::from_le_bytes(x))
    };
    let (Some(shoff), Some(shnum)) = (rd(0x28, 8), rd(0x3c, 2)) else { return v };
    let (shoff, shnum) = (shoff as usize, shnum as usize);
    if shoff.checked_add(shnum * 64).is_none_or(|e| e > b.len()) {
        return v;
    }
    v.push((shoff, shnum * 64));
    for i in 0..shnum {
        let h = shoff + i * 64;
        let (Some(t), Some(off), Some(size)) = (rd(h + 4, 4), rd(h + 24, 8), rd(h + 32, 8)) else { continue };
        // SYMTAB, REL, and PROGBITS metadata (.BTF/.BTF.ext are PROGBITS without ALLOC).
        let flags = rd(h + 8, 8).unwrap_or(0);
        if (t == 2 || t == 9 || (t == 1 && flags & 2 == 0))
            && (off as usize).checked_add(size as usize).is_some_and(|e| e <= b.len())
        {
            v.push((off as usize, size as usize));
        }
    }
    v
}

fn mutate(rng: &mut Rng, b: &mut Vec<u8>, hot: &[(usize, usize)]) {
    let len = b.len() as u64;
    let interesting =
        [0u64, 1, 0xff, 0x7f, 0x80, 0xffff, 0xffff_ffff, u64::MAX, len, len + 1, len - 1, 8, 16, 24, 64, 0x8000_0000];
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            return;
        }
        match rng.below(10) {
            0..=4 => {
                let (start, size) = hot[rng.below(hot.len())];
                let w = [1usize, 2, 4, 8][rng.below(4)];
                if size < w {
                    continue;
                }
                let at = start + rng.below(size - w + 1);
                let v = interesting[rng.below(interesting.len())];
                let v = if rng.below(4) == 0 { v.wrapping_add(rng.below(16) as u64).wrapping_sub(8) } else { v };
                if at + w <= b.len() {
                    b[at..at + w].copy_from_slice(&v.to_le_bytes()[..w]);
                }
            }
            5..=7 => {
                let at = rng.below(b.len());
                b[at] ^= 1 << rng.below(8);
            }
            8 => {
                let n = rng.below(b.len());
                b.truncate(n);
            }
            _ => {
                let from = rng.below(b.len());
                let n = rng.below(64).min(b.len() - from);
                let chunk = b[from..from + n].to_vec();
                let at = rng.below(b.len());
                b.splice(at..at, chunk);
            }
        }
    }
}

fn run_object(path: PathBuf, iterations: usize, seed: u64) -> Result<(), Failed> {
    let good = std::fs::read(&path).map_err(|e| e.to_string())?;
    // CO-RE resolves against the object's own BTF: fast, and relocations still match.
    let own = Object::parse(&good, "seed.o", &LoadOptions { target_btf: TargetBtf::Parsed(Arc::default()) })
        .ok()
        .and_then(|o| o.btf)
        .unwrap_or_default();
    let opts = LoadOptions { target_btf: TargetBtf::Parsed(Arc::new(own)) };
    let hot = hot_ranges(&good);
    let mut rng = Rng(seed);
    for i in 0..iterations {
        let mut b = good.clone();
        mutate(&mut rng, &mut b, &hot);
        let r = catch_unwind(AssertUnwindSafe(|| {
            let _ = Object::parse(&b, "mutant.o", &opts);
            let _ = listing::sections(&b, "mutant.o");
            let _ = Btf::parse(&b, "mutant");
        }));
        if r.is_err() {
            let mut msg = format!("panic on mutation {i} of {} (seed {seed:#x})", name_of(&path));
            if std::env::var_os("BPFC_SAVE_CRASHERS").is_some() {
                let dir = root().join("testsuite/elf-bad/crashers");
                let _ = std::fs::create_dir_all(&dir);
                let f = dir.join(format!("{}-{seed:x}-{i}.o", name_of(&path)));
                let _ = std::fs::write(&f, &b);
                msg.push_str(&format!("; input saved to {}", f.display()));
            }
            return Err(msg.into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let total: usize = std::env::var("BPFC_MUTATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let base_seed: u64 = std::env::var("BPFC_MUTATE_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x00b9_fc0e_1f00_0001);
    let mut objs = example_objects();
    objs.retain(|p| !name_of(p).contains(".v4."));
    if let Ok(d) = std::fs::read_dir(root().join("testsuite/elf-bad")) {
        let mut bad: Vec<PathBuf> =
            d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "o")).collect();
        bad.sort();
        // A handful of damaged objects as extra starting points (they fail early; keep them few).
        objs.extend(bad.into_iter().step_by(8));
    }
    let per = total.div_ceil(objs.len().max(1));
    let trials = objs
        .into_iter()
        .enumerate()
        .map(|(k, p)| {
            let seed = base_seed.wrapping_add(k as u64 * 0x1_0000);
            Trial::test(format!("mutate::{}", name_of(&p)), move || run_object(p, per, seed))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
