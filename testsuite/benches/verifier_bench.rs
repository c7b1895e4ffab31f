//! Verifier throughput: processed instructions per second (the kernel's "processed N insns") and peak
//! memory, on the corpus, on a large straight-line program (200 map lookups with checks, ~3,000
//! instructions) and on loop-heavy programs (a 100,000-iteration bounded loop; the 1,000,000-instruction
//! complexity limit). Run with `cargo bench -p bpfc-testsuite --bench verifier_bench` (release) or
//! `cargo test -p bpfc-testsuite --bench verifier_bench` (debug).

use bpfc_compiler::verify::{VerifyInput, verify};
use bpfc_runtime::ctx::{Arch, CtxLayout};
use bpfc_testsuite::verifier_corpus::{CorpusProgram, load_dir, parse};
use std::path::Path;
use std::time::Instant;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Verifies `progs` `reps` times; returns (processed instructions, seconds).
fn measure(progs: &[&CorpusProgram], reps: u32) -> (u64, f64) {
    let start = Instant::now();
    let mut processed = 0;
    for _ in 0..reps {
        for p in progs {
            let Ok(code) = &p.code else { continue };
            let ctx = CtxLayout::for_prog_type(p.prog_type, Arch::X86_64).expect("layout");
            let input = VerifyInput {
                name: &p.name,
                code,
                prog_type: p.prog_type,
                ctx: &ctx,
                maps: &p.maps,
                map_fds: &[],
                lines: None,
                gpl: true,
                log_level: 0,
            };
            processed += match verify(&input) {
                Ok(f) => f.processed,
                // Rejected programs stop early; count what a rejection costs too.
                Err(_) => 0,
            };
        }
    }
    (processed, start.elapsed().as_secs_f64())
}

fn report(what: &str, progs: &[&CorpusProgram], reps: u32) {
    let (n, s) = measure(progs, reps);
    println!(
        "{what:<44} {n:>10} insns processed in {s:>7.3} s = {:>12.0} insns/s   peak RSS {} KiB",
        n as f64 / s,
        peak_rss_kib()
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let corpus = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("verifier")).expect("corpus");
    let safe: Vec<&CorpusProgram> = corpus.iter().filter(|p| p.expect_accept).collect();
    report("corpus: safe programs (x20)", &safe, 20);

    let mut big =
        String::from(";; prog: kprobe\n;; map: m hash key=8 value=64 entries=64\n;; expect: accept\nmov %r9, 0\n");
    for i in 0..200 {
        big += &format!(
            "stdw [%r10-8], {i}\nmov %r2, %r10\nadd %r2, -8\nlddw %r1, map:m\ncall 1\njeq %r0, 0, skip{i}\n\
             ldxdw %r3, [%r0+{o}]\nadd %r9, %r3\nand %r3, 7\nadd %r0, %r3\nldxb %r4, [%r0+0]\nadd %r9, %r4\nskip{i}:\n",
            o = (i % 7) * 8
        );
    }
    big += "mov %r0, %r9\nexit\n";
    let big = parse("big", &big).expect("big program");
    report("200 lookups, 3,000 insns (x20)", &[&big], 20);

    let lp = parse(
        "loop",
        ";; prog: kprobe\n;; expect: accept\nmov %r0, 0\nmov %r1, 0\nloop:\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 100000, loop\nexit\n",
    )
    .expect("loop");
    report("bounded loop, 100,000 iterations", &[&lp], 1);
    let limit = corpus.iter().filter(|p| p.name == "u_loop_unbounded_count").collect::<Vec<_>>();
    let (_, s) = measure(&limit, 1);
    println!(
        "{:<44} {:>10} insns processed in {s:>7.3} s = {:>12.0} insns/s   peak RSS {} KiB",
        "complexity limit (rejected)",
        1_000_000,
        1e6 / s,
        peak_rss_kib()
    );
}
