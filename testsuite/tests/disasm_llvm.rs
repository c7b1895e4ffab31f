//! The llvm-objdump oracle for our disassembler: programs are written as `.byte` lines, assembled with
//! `llvm-mc-19 -triple bpfel -filetype=obj` and listed with `llvm-objdump-19 -d --mattr=+alu32`; every
//! line must equal our `isa::disassemble` output once llvm's `<sym+off>` jump annotation is stripped.
//!
//! Trials: `disasm::every_form` (every opcode byte crossed with the interesting src/off/imm values,
//! whatever decodes), `disasm::random::N` (seeded random valid encodings with real jump targets; the
//! seed is in the trial name and failure message, `BPFC_SEED` changes the base), and
//! `disasm::conformance::CASE` for every conformance program. Without llvm-mc-19/llvm-objdump-19 the
//! test prints a loud SKIP and reports one ignored trial naming what is missing.

use bpfc_compiler::conformance::{data_files, parse_file};
use bpfc_runtime::isa::{decode, disassemble};
use bpfc_testsuite::data::conformance_dir;
use libtest_mimic::{Arguments, Failed, Trial};
use std::process::Command;

const MC: &str = "llvm-mc-19";
const OBJDUMP: &str = "llvm-objdump-19";
const RANDOM_BATCHES: u64 = 24;
const BATCH_INSNS: usize = 1000;

/// splitmix64: deterministic and dependency-free.
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
}

fn tool_present(name: &str) -> bool {
    Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// llvm-objdump's listing of `bytes`, one string per instruction line, jump annotations stripped.
fn llvm_listing(name: &str, bytes: &[u8]) -> Result<Vec<String>, String> {
    let dir = std::env::temp_dir().join(format!("bpfc-disasm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let stem = name.replace([':', '/'], "_");
    let s = dir.join(format!("{stem}.s"));
    let o = dir.join(format!("{stem}.o"));
    let mut text = String::from(".text\n.globl f\nf:\n");
    for chunk in bytes.chunks(8) {
        let b: Vec<String> = chunk.iter().map(|b| format!("{b:#04x}")).collect();
        text.push_str(&format!(".byte {}\n", b.join(",")));
    }
    std::fs::write(&s, text).map_err(|e| e.to_string())?;
    let out = Command::new(MC).args(["-triple", "bpfel", "-filetype=obj", "-o"]).arg(&o).arg(&s).output();
    let out = out.map_err(|e| format!("{MC}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{MC} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let out = Command::new(OBJDUMP).args(["-d", "--mattr=+alu32"]).arg(&o).output();
    let out = out.map_err(|e| format!("{OBJDUMP}: {e}"))?;
    let _ = std::fs::remove_file(&s);
    let _ = std::fs::remove_file(&o);
    if !out.status.success() {
        return Err(format!("{OBJDUMP} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.split_once(':').is_some_and(|(n, rest)| {
                !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) && rest.starts_with('\t')
            })
        })
        .map(|l| match l.rfind(" <") {
            Some(i) if l.ends_with('>') => l[..i].to_string(),
            _ => l.to_string(),
        })
        .collect())
}

/// Compares our listing of `bytes` with llvm-objdump's.
fn compare(name: &str, bytes: &[u8], context: &str) -> Result<(), Failed> {
    let code = decode(bytes).map_err(|e| format!("{context}: our decoder rejects the program: {e}"))?;
    let ours: Vec<String> = disassemble(&code).lines().map(str::to_string).collect();
    let theirs = llvm_listing(name, bytes)?;
    let mut diffs = Vec::new();
    for i in 0..ours.len().max(theirs.len()) {
        let (a, b) = (ours.get(i).map_or("<none>", |s| s), theirs.get(i).map_or("<none>", |s| s));
        if a != b {
            diffs.push(format!("  ours: {a}\n  llvm: {b}"));
        }
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        let n = diffs.len();
        diffs.truncate(20);
        Err(format!("{context}: {n} of {} lines differ:\n{}", ours.len(), diffs.join("\n")).into())
    }
}

/// Where an instruction keeps its relative target, so generated programs can get valid targets.
#[derive(Clone, Copy)]
enum Rel {
    None,
    Off,
    Imm,
}

fn rel_field(slot: &[u8; 8]) -> Rel {
    let (op, src) = (slot[0], slot[1] >> 4);
    match (op & 7, op) {
        (5, 0x85) if src == 1 => Rel::Imm,
        (5, 0x85 | 0x8d | 0x95) => Rel::None,
        (6, 0x06) => Rel::Imm,
        (5 | 6, _) => Rel::Off,
        (0, 0x18) if src == 4 => Rel::Imm,
        _ => Rel::None,
    }
}

const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];

/// The instruction (one or two slots) if `[slot(, second), exit]` decodes once its target is zeroed.
fn valid(mut slot: [u8; 8], second: u64) -> Option<(Vec<u8>, Rel)> {
    let rel = rel_field(&slot);
    match rel {
        Rel::Off => slot[2..4].fill(0),
        Rel::Imm => slot[4..8].fill(0),
        Rel::None => {}
    }
    let mut prog = slot.to_vec();
    if slot[0] == 0x18 {
        prog.extend_from_slice(&second.to_le_bytes());
    }
    let len = prog.len();
    prog.extend_from_slice(&EXIT);
    decode(&prog).ok().map(|_| {
        prog.truncate(len);
        (prog, rel)
    })
}

/// Lays out instructions and points every relative field at a random instruction start.
fn program(insns: Vec<(Vec<u8>, Rel)>, rng: &mut Rng) -> Vec<u8> {
    let mut starts = Vec::with_capacity(insns.len() + 1);
    let mut pc = 0usize;
    for (b, _) in &insns {
        starts.push(pc);
        pc += b.len() / 8;
    }
    starts.push(pc);
    let mut out = Vec::with_capacity(pc * 8 + 8);
    for (i, (mut b, rel)) in insns.into_iter().enumerate() {
        let target = starts[rng.below(starts.len() as u64) as usize] as i64;
        let delta = target - starts[i] as i64 - 1;
        match rel {
            Rel::Off => b[2..4].copy_from_slice(&(delta as i16).to_le_bytes()),
            Rel::Imm => b[4..8].copy_from_slice(&(delta as i32).to_le_bytes()),
            Rel::None => {}
        }
        out.extend_from_slice(&b);
    }
    out.extend_from_slice(&EXIT);
    out
}

/// Immediates that select atomic operations.
const ATOMIC_IMMS: [i32; 10] = [0x00, 0x01, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1];

fn random_program(seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut insns = Vec::with_capacity(BATCH_INSNS);
    while insns.len() < BATCH_INSNS {
        let mut b = rng.next().to_le_bytes();
        // Bias towards valid fields: small registers, often-zero offsets and immediates.
        b[1] &= if rng.below(4) == 0 { 0xff } else { 0x77 };
        if rng.below(2) == 0 {
            b[2..4].fill(0);
        }
        match rng.below(4) {
            0 => b[4..8].fill(0),
            1 => b[4..8].copy_from_slice(&(rng.below(70) as i32).to_le_bytes()),
            2 => b[4..8].copy_from_slice(&ATOMIC_IMMS[rng.below(ATOMIC_IMMS.len() as u64) as usize].to_le_bytes()),
            _ => {}
        }
        if rng.below(2) == 0 {
            b[1] &= 0x0f;
        }
        if rng.below(8) == 0 {
            b[2..4].copy_from_slice(&[8u16, 16, 32, 1][rng.below(4) as usize].to_le_bytes());
        }
        let second = rng.next() & 0xffff_ffff_0000_0000;
        if let Some(v) = valid(b, second) {
            insns.push(v);
        }
    }
    program(insns, &mut rng)
}

/// Every opcode crossed with the values that select forms (src 0–10, widths in off, atomic and endian
/// codes in imm), keeping whatever decodes.
fn every_form() -> Vec<u8> {
    let mut rng = Rng(1);
    let mut insns = Vec::new();
    let imms: [i32; 16] =
        [0, 1, 16, 32, 64, 0x40, 0x41, 0x50, 0x51, 0xa0, 0xa1, 0xe1, 0xf1, -1, 0x7fff_ffff, -0x8000_0000];
    let offs: [i16; 6] = [0, 1, 8, 16, 32, -1];
    for op in 0..=255u8 {
        for src in 0..=10u8 {
            for &imm in &imms {
                for &off in &offs {
                    let mut b = [op, (src << 4) | 3, 0, 0, 0, 0, 0, 0];
                    b[2..4].copy_from_slice(&off.to_le_bytes());
                    b[4..8].copy_from_slice(&imm.to_le_bytes());
                    if let Some(v) = valid(b, 0x1234_5678_0000_0000) {
                        insns.push(v);
                    }
                }
            }
        }
    }
    program(insns, &mut rng)
}

fn main() {
    let args = Arguments::from_args();
    let missing: Vec<&str> = [MC, OBJDUMP].into_iter().filter(|t| !tool_present(t)).collect();
    if !missing.is_empty() {
        let what = missing.join(" and ");
        eprintln!("\n*** SKIP: {what} not found on PATH: the llvm-objdump disassembly oracle did NOT run ***\n");
        let trial =
            Trial::test(format!("disasm::SKIPPED_missing_{}", missing.join("_")), || Ok(())).with_ignored_flag(true);
        libtest_mimic::run(&args, vec![trial]).exit();
    }
    let base: u64 = std::env::var("BPFC_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_0000);
    let mut trials = vec![Trial::test("disasm::every_form", || compare("every_form", &every_form(), "every form"))];
    for k in 0..RANDOM_BATCHES {
        let seed = base + k;
        trials.push(Trial::test(format!("disasm::random::{seed}"), move || {
            compare(&format!("random_{seed}"), &random_program(seed), &format!("seed {seed} (BPFC_SEED={base})"))
        }));
    }
    match conformance_dir().and_then(|d| data_files(&d.join("tests")).map_err(|e| e.to_string())) {
        Ok(files) => {
            for path in files {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                trials.push(Trial::test(format!("disasm::conformance::{stem}"), move || {
                    let case = parse_file(&path).map_err(|e| e.to_string())?;
                    compare(&format!("conf_{stem}"), &case.code, &stem)
                }));
            }
        }
        Err(e) => trials.push(Trial::test("disasm::conformance::data_folder", move || Err(e.into()))),
    }
    libtest_mimic::run(&args, trials).exit();
}
