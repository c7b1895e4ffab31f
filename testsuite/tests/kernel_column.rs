//! The kernel column of `bpfc test` (`bpfc_compiler::kernel_replay`) on this machine's kernel: raw
//! tracepoint programs run through `BPF_PROG_TEST_RUN` and through the interpreter under the kernel's
//! conditions must agree on r0 and maps (raw_syscount on its bundled replay file; the current-task
//! helpers, per-CPU maps on two CPUs and reads through replaced ctx pointers in
//! `testsuite/kernel-column/task.bpf.c`), and so must syscall programs on r0, the context written back
//! and maps (syscall_add); a change made on the kernel side only, or a context the kernel refuses, must be
//! reported with its event, program and map; clock-dependent differences must be reported as expected.
//!
//! Needs bpf() (root) and clang-19 (for the fixtures). If either is missing every case fails with the
//! reason rather than passing.

use anyhow::{Context, Result, anyhow, bail, ensure};
use bpfc_compiler::input::{self, Input};
use bpfc_compiler::kernel_replay::{Difference, KernelColumn, KernelReport};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::replay::ReplayReader;
use bpfc_runtime::sys::bpf::{self, map_lookup, map_update};
use libtest_mimic::{Arguments, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn formats() -> TpFormats {
    TpFormats::dirs(vec![repo().join("examples/events/formats")], false)
}

/// Compiles `testsuite/kernel-column/NAME.bpf.c` with clang-19 and loads it.
fn fixture(name: &str) -> Result<Input> {
    let src = repo().join("testsuite/kernel-column").join(format!("{name}.bpf.c"));
    let obj = std::env::temp_dir().join(format!("bpfc-kernel-column-{}-{name}.o", std::process::id()));
    let out = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-I"])
        .arg(repo().join("examples"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .context("running clang-19")?;
    ensure!(out.status.success(), "clang-19 {}: {}", src.display(), String::from_utf8_lossy(&out.stderr));
    let input = input::load(&obj);
    let _ = std::fs::remove_file(&obj);
    Ok(input?)
}

/// The kernel column of `input` after JSON Lines `events`; `before` may change the kernel side first.
fn run_column(input: &Input, events: &str, before: impl FnOnce(&KernelColumn) -> Result<()>) -> Result<KernelColumn> {
    let f = formats();
    let mut col = KernelColumn::new(input, &f)?.ok_or_else(|| anyhow!("no test-runnable program"))?;
    before(&col)?;
    for (n, e) in ReplayReader::new(events.as_bytes(), "events", &f).enumerate() {
        col.run_event(&e?, n + 1);
    }
    Ok(col)
}

fn column(input: &Input, events: &str, before: impl FnOnce(&KernelColumn) -> Result<()>) -> Result<KernelReport> {
    Ok(run_column(input, events, before)?.finish())
}

fn map_index(input: &Input, name: &str) -> Result<usize> {
    input.maps.iter().position(|m| m.name == name).ok_or_else(|| anyhow!("no map `{name}`"))
}

fn show(r: &KernelReport) -> String {
    r.differences.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")
}

fn raw_syscount_replay_identical() -> Result<()> {
    let input = input::load(&repo().join("examples/raw_syscount.bpf.o"))?;
    let events = std::fs::read_to_string(repo().join("examples/events/raw_tp_write.jsonl"))?;
    let counts = map_index(&input, "counts")?;
    let col = run_column(&input, &events, |_| Ok(()))?;
    // The kernel really counted the syscalls (not two empty maps compared).
    let mut kernel_counts = 0;
    let mut key = None;
    while let Ok(k) = bpf::map_get_next_key(&col.kernel().maps[counts], key.as_deref()) {
        kernel_counts += 1;
        key = Some(k);
    }
    ensure!(kernel_counts > 0, "the kernel's `counts` map is empty");
    let report = col.finish();
    ensure!(report.differences.is_empty(), "differences:\n{}", show(&report));
    ensure!(report.runs == 23, "{} invocations, want 23", report.runs);
    ensure!(report.tested == ["raw_sys_enter", "raw_sys_exit"], "tested {:?}", report.tested);
    ensure!(report.skipped.is_empty() && report.unreproducible.is_empty(), "{report:?}");
    Ok(())
}

/// Events on both CPUs; args[0] points into a recorded blob (replaced) or is NULL.
const TASK_EVENTS: &str = r#"
{"pid":4242,"tid":4243,"uid":1000,"gid":1000,"cpu":0,"time_ns":1000,"comm":"workload","raw_tp":"sys_enter","raw_tp_args":["0xffffc90000a3ff58",3],"memory":[{"addr":"0xffffc90000a3ff58","bytes":"0102030405060708"}]}
{"pid":4242,"cpu":1,"time_ns":2000,"comm":"workload","raw_tp":"sys_exit","raw_tp_args":["0xffffc90000a3ff58",5],"memory":[{"addr":"0xffffc90000a3ff58","bytes":"0102030405060708"}]}
{"pid":4242,"cpu":1,"time_ns":3000,"comm":"workload","raw_tp":"sys_enter","raw_tp_args":[0,4]}
"#;

fn task_helpers_agree_with_the_kernel() -> Result<()> {
    let input = fixture("task")?;
    let (task, per_cpu) = (map_index(&input, "task")?, map_index(&input, "per_cpu")?);
    let col = run_column(&input, TASK_EVENTS, |_| Ok(()))?;
    let kernel = |m: usize, k: u32| -> Result<Vec<u8>> {
        map_lookup(&col.kernel().maps[m], &k.to_le_bytes(), 0).map_err(|e| anyhow!("lookup: {e}"))
    };
    let word = |v: &[u8], i: usize| u64::from_le_bytes(v[8 * i..8 * i + 8].try_into().unwrap());
    // Values the kernel's helpers gave: this process, the last event's CPU, the read's errno.
    let pid_tgid = word(&kernel(task, 0)?, 0);
    ensure!(pid_tgid >> 32 == u64::from(std::process::id()), "tgid {pid_tgid:#x}: not this process");
    ensure!(word(&kernel(task, 2)?, 0) == 1, "smp_processor_id of the last event (CPU 1)");
    ensure!(word(&kernel(task, 5)?, 0) as i64 == -34, "probe_read_kernel of NULL: -ERANGE");
    let pc = kernel(per_cpu, 0)?;
    ensure!(pc.len() >= 16 && word(&pc, 0) == 3 && word(&pc, 1) == 4, "per-CPU counts {pc:?}");
    let report = col.finish();
    ensure!(report.differences.is_empty(), "differences:\n{}", show(&report));
    ensure!(report.runs == 3 && report.skipped.is_empty(), "{report:?}");
    Ok(())
}

fn kernel_only_change_is_reported() -> Result<()> {
    let input = fixture("task")?;
    let knob = map_index(&input, "knob")?;
    let report = column(&input, TASK_EVENTS, |col| {
        map_update(&col.kernel().maps[knob], &0u32.to_le_bytes(), &7u64.to_le_bytes(), 0)
            .map_err(|e| anyhow!("update: {e}"))
    })?;
    let want_r0 = Difference::Result {
        event: 2,
        program: "knob_r0".into(),
        interp: "r0 = 0x5".into(),
        kernel: "r0 = 0xc".into(),
    };
    let want_map = Difference::Map {
        name: "knob".into(),
        first: Some((1, "task_helpers".into())),
        entries: vec!["key 00000000: interp 0000000000000000, kernel 0700000000000000".into()],
    };
    ensure!(report.differences == [want_r0, want_map], "differences:\n{}", show(&report));
    ensure!(report.counted_differences() == 2, "counted {}", report.counted_differences());
    Ok(())
}

fn clock_differences_are_expected() -> Result<()> {
    let input = fixture("clock")?;
    let report = column(&input, TASK_EVENTS, |_| Ok(()))?;
    ensure!(report.unreproducible == [("clock_r0".to_string(), vec!["bpf_ktime_get_ns"])], "{report:?}");
    ensure!(report.differences_expected() && report.counted_differences() == 0, "{report:?}");
    ensure!(
        report.differences.iter().any(|d| matches!(d, Difference::Map { name, .. } if name == "last")),
        "the clock value stored in `last` differs:\n{}",
        show(&report)
    );
    Ok(())
}

fn syscall_add_replay_identical() -> Result<()> {
    let input = input::load(&repo().join("examples/syscall_add.bpf.o"))?;
    let events = std::fs::read_to_string(repo().join("examples/events/syscall_add.jsonl"))?;
    let total = map_index(&input, "total")?;
    let col = run_column(&input, &events, |_| Ok(()))?;
    let t = map_lookup(&col.kernel().maps[total], &0u32.to_le_bytes(), 0).map_err(|e| anyhow!("lookup: {e}"))?;
    ensure!(t == 23u64.to_le_bytes(), "the kernel's total is {t:?}, the contexts sum to 23");
    let report = col.finish();
    ensure!(report.differences.is_empty(), "differences:\n{}", show(&report));
    ensure!(report.runs == 3 && report.tested == ["add"], "{report:?}");
    Ok(())
}

/// A context shorter than the fields the program uses: bpfc runs it zero-padded, the kernel refuses it.
fn syscall_short_context_is_reported() -> Result<()> {
    let input = input::load(&repo().join("examples/syscall_add.bpf.o"))?;
    let report = column(&input, r#"{"ctx":"0100000002000000"}"#, |_| Ok(()))?;
    match report.differences.as_slice() {
        [Difference::Result { event: 1, program, interp, kernel }, Difference::Map { name, .. }]
            if program == "add"
                && interp == "r0 = 0x0"
                && kernel.contains("EINVAL")
                && kernel.contains("shorter")
                && name == "total" =>
        {
            Ok(())
        }
        _ => bail!("differences:\n{}", show(&report)),
    }
}

fn event_on_missing_cpu_is_skipped() -> Result<()> {
    let input = fixture("task")?;
    let events = r#"{"cpu":4000,"raw_tp":"sys_exit","raw_tp_args":[0,1]}"#;
    let report = column(&input, events, |_| Ok(()))?;
    ensure!(report.runs == 0, "{report:?}");
    match report.skipped.as_slice() {
        [(1, why)] if why.contains("CPU 4000") => Ok(()),
        other => bail!("skipped: {other:?}"),
    }
}

fn tracepoint_programs_are_not_testable() -> Result<()> {
    let input = input::load(&repo().join("examples/syscount.bpf.o"))?;
    ensure!(KernelColumn::new(&input, &formats())?.is_none(), "a tracepoint program was taken");
    let untestable = bpfc_compiler::kernel_replay::untestable(&input);
    ensure!(untestable.len() == 1 && untestable[0].2 == ProgType::Tracepoint, "{untestable:?}");
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    type Case = (&'static str, fn() -> Result<()>);
    let cases: [Case; 8] = [
        ("raw_syscount_replay_identical", raw_syscount_replay_identical),
        ("task_helpers_agree_with_the_kernel", task_helpers_agree_with_the_kernel),
        ("kernel_only_change_is_reported", kernel_only_change_is_reported),
        ("clock_differences_are_expected", clock_differences_are_expected),
        ("syscall_add_replay_identical", syscall_add_replay_identical),
        ("syscall_short_context_is_reported", syscall_short_context_is_reported),
        ("event_on_missing_cpu_is_skipped", event_on_missing_cpu_is_skipped),
        ("tracepoint_programs_are_not_testable", tracepoint_programs_are_not_testable),
    ];
    let trials = match bpf::kernel_bpf_available() {
        Ok(()) => cases
            .into_iter()
            .map(|(name, f)| Trial::test(name, move || f().map_err(|e| format!("{e:#}").into())))
            .collect(),
        Err(why) => {
            eprintln!("SKIP-IS-FAILURE: kernel bpf() unusable: {why}");
            vec![Trial::test("kernel_bpf_available", move || Err(why.clone().into()))]
        }
    };
    libtest_mimic::run(&args, trials).exit();
}
