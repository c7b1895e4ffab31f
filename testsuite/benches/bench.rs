//! bpfc benchmark: the six compute kernels of `benches/kernels/bench.h`, compiled once to BPF and run by
//! the interpreter, the JIT, the AOT object (`dlopen`), the kernel's own JIT (`BPF_PROG_TEST_RUN` with a
//! repeat count) and as native C (`clang-19 -O2`), side by side in one process run, plus compile
//! throughput. Every engine must produce the same checksum as native C (checked, not assumed).
//!
//! Run: `cargo bench -p bpfc-testsuite --bench bench` (needs clang-19 and root for the kernel column).
//! Method: `PASSES` interleaved passes; in each pass every engine runs each kernel `runs` times and the
//! mean per run is recorded; the table shows the best pass and the median pass. The CPU clock here
//! wanders (1.5–2.5 GHz), so ratios measured in the same pass are what to read.

use anyhow::{Context, Result, bail};
use bpfc_compiler::emit::jit::JitProgram;
use bpfc_compiler::emit::object::{ObjectSource, build_object, link_shared};
use bpfc_compiler::emit::{CodegenOptions, ProgramSource};
use bpfc_compiler::input::{self, Input};
use bpfc_compiler::lower::LowerOptions;
use bpfc_runtime::abi::EventMeta;
use bpfc_runtime::bind::{Binding, Runnable};
use bpfc_runtime::exec::Outcome;
use bpfc_runtime::interp::Program as InterpProgram;
use bpfc_runtime::native::NativeLibrary;
use bpfc_runtime::sys::bpf::{TestRun, map_lookup, map_update, prog_test_run};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const KERNELS: [&str; 6] = ["fnv", "primes", "log2", "copy", "strcmp", "dispatch"];
const PASSES: usize = 7;

fn kernels_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/kernels")
}

fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("{cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deterministic input: pseudo-random bytes with string pairs that share prefixes of varying length.
fn make_input() -> Vec<u8> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut buf: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    for p in 0..64 {
        let (a, b) = (p * 32, p * 32 + 16);
        let shared = p % 17;
        for i in 0..16 {
            let c = b'a' + ((p + i) % 26) as u8;
            buf[a + i] = if i == 15 { 0 } else { c };
            buf[b + i] = if i == 15 {
                0
            } else if i < shared {
                c
            } else {
                c.wrapping_add(1 + (p % 3) as u8)
            };
        }
    }
    buf
}

struct Tools {
    bpf_obj: PathBuf,
    native_exe: PathBuf,
    input_file: PathBuf,
}

fn build_tools(dir: &Path, input: &[u8]) -> Result<Tools> {
    let k = kernels_dir();
    let bpf_obj = dir.join("bench.bpf.o");
    let arch_include = format!("-I/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    run(Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3", &arch_include, "-c"])
        .arg(k.join("bench.bpf.c"))
        .arg("-o")
        .arg(&bpf_obj))?;
    let native_exe = dir.join("native_bench");
    run(Command::new("clang-19").args(["-O2", "-o"]).arg(&native_exe).arg(k.join("native.c")))?;
    let input_file = dir.join("input.bin");
    std::fs::write(&input_file, input)?;
    Ok(Tools { bpf_obj, native_exe, input_file })
}

/// Mean ns per run of `f` over `runs` runs.
fn time_runs(runs: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..runs {
        f();
    }
    t.elapsed().as_nanos() as f64 / runs as f64
}

fn checksum(binding: &Binding, result_map: usize) -> Result<u64> {
    let map = binding.map(result_map).context("result map")?;
    let v = map.lookup(&0u32.to_le_bytes()).map_err(|e| anyhow::anyhow!("result lookup: {e}"))?;
    Ok(u64::from_le_bytes(v[..8].try_into()?))
}

#[derive(Default)]
struct Samples(BTreeMap<(String, &'static str), Vec<f64>>);

impl Samples {
    fn add(&mut self, engine: &str, kernel: &'static str, ns: f64) {
        self.0.entry((engine.to_string(), kernel)).or_default().push(ns);
    }
    fn best(&self, engine: &str, kernel: &'static str) -> Option<f64> {
        self.0.get(&(engine.to_string(), kernel)).map(|v| v.iter().copied().fold(f64::INFINITY, f64::min))
    }
    fn median(&self, engine: &str, kernel: &'static str) -> Option<f64> {
        self.0.get(&(engine.to_string(), kernel)).map(|v| {
            let mut v = v.clone();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        })
    }
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("bpfc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input_bytes = make_input();
    let tools = build_tools(&dir, &input_bytes)?;
    let input: Input = input::load(&tools.bpf_obj)?;
    let index = |name: &str| -> Result<usize> {
        input.programs.iter().position(|p| p.name == format!("bench_{name}_prog")).context(name.to_string())
    };
    let buffers = input.maps.iter().position(|m| m.name == "buffers").context("buffers map")?;
    let result_map = input.maps.iter().position(|m| m.name == "result").context("result map")?;
    let insns: usize = input.programs.iter().map(|p| p.code.len()).sum();

    // Compile throughput.
    let sources: Vec<ProgramSource<'_>> = input
        .programs
        .iter()
        .map(|p| ProgramSource { name: &p.name, section: &p.section, prog_type: p.prog_type, code: &p.code })
        .collect();
    let opts =
        CodegenOptions { lower: LowerOptions { checked: false, maps: input.maps.clone() }, ..Default::default() };
    let t = Instant::now();
    let jit = JitProgram::compile(&sources, &opts, false)?;
    let jit_secs = t.elapsed().as_secs_f64();
    let aot_opts = CodegenOptions { pic: true, ..opts.clone() };
    let t = Instant::now();
    let built = build_object(
        &ObjectSource { programs: sources.clone(), maps: input.maps.clone(), license: input.license.clone() },
        &aot_opts,
        false,
    )?;
    let obj_secs = t.elapsed().as_secs_f64();
    let obj_path = dir.join("bench.native.o");
    let so_path = dir.join("bench.so");
    std::fs::write(&obj_path, &built.bytes)?;
    link_shared(&obj_path, &so_path, None)?;
    let lib = NativeLibrary::open(&so_path)?;
    let interp: Vec<InterpProgram> =
        input.programs.iter().map(|p| InterpProgram::new(&p.code)).collect::<Result<_, _>>()?;

    // Benchmarks measure code compiled without run-time checks, as for verified programs: the kernel's
    // verifier accepts all six (it loads them below); bpfc's own verdicts are printed for the record.
    let formats = bpfc_runtime::events::formats::TpFormats::dirs(vec![], false);
    for i in 0..input.programs.len() {
        let verdict = match bpfc_compiler::pipeline::verify_program(&input, i, &formats, 0)? {
            Ok(f) => format!("accepted ({} insns processed)", f.processed),
            Err(r) => format!("rejected: {}", r.message),
        };
        eprintln!("bench: bpfc verifier on {}: {verdict}", input.programs[i].name);
    }
    let binding = Binding::new(&input.maps)?;
    binding.set_zero_stack(false);
    binding
        .map(buffers)
        .context("buffers")?
        .update(&0u32.to_le_bytes(), &input_bytes, 0)
        .map_err(|e| anyhow::anyhow!("buffers update: {e}"))?;

    // The kernel side, when this machine lets us load programs.
    let kernel = match bpfc_compiler::kernel::load(&input) {
        Ok(k) => {
            map_update(&k.maps[buffers], &0u32.to_le_bytes(), &input_bytes, 0)?;
            Some(k)
        }
        Err(e) => {
            eprintln!("bench: SKIP kernel column: {e}");
            None
        }
    };

    let mut samples = Samples::default();
    let mut checksums: BTreeMap<(String, &'static str), u64> = BTreeMap::new();
    let event = EventMeta::default();
    for pass in 0..PASSES {
        let native_out = run(Command::new(&tools.native_exe).arg(&tools.input_file).arg("200").arg("1"))?;
        for line in native_out.lines() {
            let f: Vec<&str> = line.split(' ').collect();
            if let [name, ns, sum] = f[..]
                && let Some(k) = KERNELS.iter().find(|k| **k == name)
            {
                samples.add("native", k, ns.parse()?);
                checksums.insert(("native".into(), k), sum.parse()?);
            }
        }
        for &k in &KERNELS {
            let i = index(k)?;
            let runs = if k == "copy" || k == "strcmp" { 20_000 } else { 200 };
            let native_entry = lib.program(&input.programs[i].name).context("aot entry")?;
            let jit_entry = jit.entry(&input.programs[i].name).context("jit entry")?;
            let engines: [(&str, Runnable<'_>, usize); 3] = [
                ("interp", Runnable::Interp(&interp[i]), (runs / 50).max(4)),
                ("jit", Runnable::Native(jit_entry), runs),
                ("aot", Runnable::Native(native_entry.entry()), runs),
            ];
            for (name, prog, n) in engines {
                let mut ctx = [0u8; 24];
                let programs = [prog];
                let ns = time_runs(n, || {
                    let report = binding.run(&programs, 0, &mut ctx, event, true);
                    assert!(matches!(report.outcome, Outcome::Exit(_)), "{name} {k}: {:?}", report.outcome);
                });
                samples.add(name, k, ns);
                if pass == 0 {
                    checksums.insert((name.into(), k), checksum(&binding, result_map)?);
                }
            }
            if let Some(kern) = &kernel {
                let packet = [0u8; 64];
                let r = prog_test_run(
                    kern.progs[i].as_fd(),
                    &TestRun { data_in: &packet, repeat: runs as u32, ..TestRun::default() },
                )?;
                samples.add("kernel", k, f64::from(r.duration_ns));
                if pass == 0 {
                    let v = map_lookup(&kern.maps[result_map], &0u32.to_le_bytes(), 0)?;
                    checksums.insert(("kernel".into(), k), u64::from_le_bytes(v[..8].try_into()?));
                }
            }
        }
    }
    // Every engine must agree with native C.
    for &k in &KERNELS {
        let want = checksums[&("native".to_string(), k)];
        for (key, got) in checksums.iter().filter(|((_, kk), _)| *kk == k) {
            if *got != want {
                bail!("checksum mismatch on {k}: {} gives {got:#x}, native C {want:#x}", key.0);
            }
        }
    }

    let engines = ["native", "aot", "jit", "kernel", "interp"];
    println!("| kernel | {} | aot/native | aot/kernel | jit/native |", engines.map(|e| format!("{e} ns")).join(" | "));
    println!("|---|{}---:|---:|---:|", "---:|".repeat(engines.len()));
    let mut logs = (0.0, 0.0, 0usize);
    for &k in &KERNELS {
        let cell = |e: &str| {
            samples
                .best(e, k)
                .map_or("–".to_string(), |b| format!("{b:.0} ({:.0})", samples.median(e, k).unwrap_or(b)))
        };
        let ratio = |a: &str, b: &str| match (samples.best(a, k), samples.best(b, k)) {
            (Some(x), Some(y)) if y > 0.0 => format!("{:.2}", x / y),
            _ => "–".to_string(),
        };
        if let (Some(a), Some(n)) = (samples.best("aot", k), samples.best("native", k)) {
            logs.0 += (a / n).ln();
            logs.2 += 1;
        }
        if let (Some(a), Some(kk)) = (samples.best("aot", k), samples.best("kernel", k)) {
            logs.1 += (a / kk).ln();
        }
        println!(
            "| {k} | {} | {} | {} | {} |",
            engines.map(cell).join(" | "),
            ratio("aot", "native"),
            ratio("aot", "kernel"),
            ratio("jit", "native")
        );
    }
    if logs.2 > 0 {
        println!(
            "\ngeometric mean: aot/native {:.2}, aot/kernel {:.2}",
            (logs.0 / logs.2 as f64).exp(),
            (logs.1 / logs.2 as f64).exp()
        );
    }
    println!(
        "\ncompile throughput ({insns} BPF instructions, {} programs): JIT {:.0} insns/s ({:.1} ms), object {:.0} insns/s ({:.1} ms)",
        input.programs.len(),
        insns as f64 / jit_secs,
        jit_secs * 1e3,
        insns as f64 / obj_secs,
        obj_secs * 1e3
    );
    extra_figures(&binding)?;
    map_figures()?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Map operations per op: bpfc's maps (what helpers do), the kernel's maps through `bpf()` (a system
/// call per op, as user space pays), and a Rust `HashMap`; then ring buffer records per second.
fn map_figures() -> Result<()> {
    use bpfc_runtime::maps::MapType;
    use bpfc_runtime::maps::bench::bench_lookup_update;
    use bpfc_runtime::sys::bpf::{MapCreate, map_create};
    const KEYS: u32 = 1024;
    const ITERS: u64 = 200_000;
    println!(
        "\n| map (1024 entries, 4-byte key, 8-byte value) | bpfc lookup ns | bpfc update ns | kernel bpf() lookup ns | kernel bpf() update ns | Rust HashMap lookup ns | HashMap insert ns |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (name, ty) in [("hash", MapType::Hash), ("array", MapType::Array)] {
        let ours = bench_lookup_update(ty, KEYS, ITERS).map_err(|e| anyhow::anyhow!("{e}"))?;
        let kernel = match map_create(&MapCreate {
            map_type: ty as u32,
            key_size: 4,
            value_size: 8,
            max_entries: KEYS,
            name: "bench",
            ..MapCreate::default()
        }) {
            Ok(m) => {
                for k in 0..KEYS {
                    map_update(&m, &k.to_le_bytes(), &u64::from(k).to_le_bytes(), 0)?;
                }
                let n = ITERS / 10;
                let lookup = time_runs(n as usize, || {
                    let _ = map_lookup(&m, &((n % u64::from(KEYS)) as u32).to_le_bytes(), 0);
                });
                let update = time_runs(n as usize, || {
                    let _ = map_update(&m, &7u32.to_le_bytes(), &1u64.to_le_bytes(), 0);
                });
                (format!("{lookup:.0}"), format!("{update:.0}"))
            }
            Err(e) => (format!("({e})"), "–".into()),
        };
        let mut h: std::collections::HashMap<u32, u64> = (0..KEYS).map(|k| (k, u64::from(k))).collect();
        let mut i = 0u32;
        let hl = time_runs(ITERS as usize, || {
            i = i.wrapping_add(1);
            std::hint::black_box(h.get(&(i % KEYS)));
        });
        let hi = time_runs(ITERS as usize, || {
            i = i.wrapping_add(1);
            h.insert(i % KEYS, u64::from(i));
        });
        println!(
            "| {name} | {:.0} | {:.0} | {} | {} | {hl:.0} | {hi:.0} |",
            ours.lookup_ns, ours.update_ns, kernel.0, kernel.1
        );
    }
    // Ring buffer: records of 64 bytes produced with bpf_ringbuf_output semantics and consumed by the host.
    let reg = bpfc_runtime::maps::MapRegistry::with_cpus(1);
    let fd = reg
        .create(bpfc_runtime::maps::MapSpec {
            name: "rb".into(),
            map_type: MapType::RingBuf as u32,
            max_entries: 1 << 20,
            ..Default::default()
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let rb_map = reg.get(fd).map_err(|e| anyhow::anyhow!("{e}"))?;
    let rb = rb_map.ringbuf().context("ringbuf")?;
    let record = [0x5au8; 64];
    let total = 1_000_000u64;
    let t = Instant::now();
    let mut consumed = 0u64;
    for i in 0..total {
        rb.output(&record, 0).map_err(|e| anyhow::anyhow!("{e}"))?;
        if i % 1024 == 1023 {
            consumed += rb.drain().len() as u64;
        }
    }
    consumed += rb.drain().len() as u64;
    let secs = t.elapsed().as_secs_f64();
    anyhow::ensure!(consumed == total, "ring buffer lost records: {consumed} of {total}");
    println!(
        "\nring buffer: {:.1} M records/s (64-byte records, output + drain, one thread)",
        total as f64 / secs / 1e6
    );
    Ok(())
}

/// Compile throughput on one large program, and the fixed cost of one invocation of an empty program.
fn extra_figures(binding: &Binding) -> Result<()> {
    use bpfc_runtime::isa::{assemble, decode};
    use bpfc_testsuite::random::{Rng, Shape, random_program};
    let bytes = random_program(&mut Rng::new(1), Shape { body: 20_000, jumps: true, loops: false, calls: false });
    let code = decode(&bytes)?;
    let src = ProgramSource { name: "large", section: "", prog_type: bpfc_runtime::abi::ProgType::Unspec, code: &code };
    let opts = CodegenOptions::default();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t = Instant::now();
        let _jit = JitProgram::compile(&[src], &opts, false)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "\ncompile throughput, one {}-instruction program (JIT, best of 3): {:.0} insns/s ({:.1} ms)",
        code.len(),
        code.len() as f64 / best,
        best * 1e3
    );
    let empty = decode(&assemble("mov %r0, 0\nexit").map_err(|e| anyhow::anyhow!("{e}"))?)?;
    let src =
        ProgramSource { name: "empty", section: "", prog_type: bpfc_runtime::abi::ProgType::Unspec, code: &empty };
    let jit = JitProgram::compile(&[src], &opts, false)?;
    let entry = jit.entry("empty").context("entry")?;
    let machine = binding.machine(EventMeta::default(), true);
    let runs = 200_000;
    let mut best = f64::INFINITY;
    for _ in 0..PASSES {
        let ns = time_runs(runs, || {
            let _ = bpfc_runtime::exec::run_native(&machine, entry, &mut []);
        });
        best = best.min(ns);
    }
    println!("one invocation of an empty program (JIT, verified: Env + pooled stack area + call): {best:.1} ns");
    Ok(())
}
