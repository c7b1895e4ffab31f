//! Live tracepoint events, bpfc against the kernel on the same workload (figures for docs/bench.md,
//! "Live tracepoint events: bpfc against the kernel"):
//!
//!     cargo bench -p bpfc-testsuite --bench live [-- N [PASSES [RING_PAGES_LOG2]]]
//!
//! The subject is examples/syscount.bpf.o (`raw_syscalls:sys_enter`, counts per syscall number in a hash
//! map, filtered to the workload by `target_pid`); the workload is `workload --stop getppid N`, which
//! times its own loop of N getppid(2) calls through the vDSO and prints it, so exec and exit are not in
//! the figures. Every pass runs the workload, one run per column:
//! - `baseline`: nothing attached;
//! - `kernel`: syscount loaded into the kernel and attached (perf_event_open + PERF_EVENT_IOC_SET_BPF, as
//!   live_kernel_vs_bpfc does); `kernel+stats` once more with `BPF_ENABLE_STATS` on, for the kernel's own
//!   run time per program invocation (its `run_cnt` also counts other processes' syscalls, which the
//!   program filters out early, so it is a lower bound for the workload's invocations);
//! - `bpfc source`: the runtime's LiveSource only (events consumed, no program run), the part of the
//!   consumer's cost that is not the program;
//! - `bpfc`: LiveSource + Session::run_event on the AOT-compiled program, as `bpfc run --attach` does
//!   (minus printing each invocation's line).
//!
//! Separate runs rather than one: a tracepoint program's return value decides whether perf records the
//! event at all, and syscount returns 0, so bpfc would see nothing while the kernel's copy is attached.
//! Every figure is checked before it is printed: the kernel's `counts[getppid]` must be N, bpfc's must be
//! N minus what the rings lost (reported), and `events + lost == fired`. Without root, bpf() or tracefs
//! the affected columns are skipped with a loud message.

use bpfc_compiler::input;
use bpfc_compiler::kernel::{attach_tracepoint, load};
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::live_tp::{Attach, LiveError, LiveOptions, LiveSource, StopCondition};
use bpfc_runtime::sys::bpf::{BPF_STATS_RUN_TIME, enable_stats, kernel_bpf_available, map_lookup, prog_info};
use bpfc_runtime::sys::process::{resume, thread_cpu_time};
use bpfc_testsuite::examples::{build_targets, examples_dir, set_target_pid};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

type Failed = Box<dyn std::error::Error>;

const EXAMPLE: &str = "syscount.bpf.o";
const GETPPID: u32 = 110;

/// What one run of the workload measured.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    /// The workload's own loop time.
    loop_ns: f64,
    /// Kernel: program run time per invocation (`kernel+stats` only).
    prog_ns: Option<f64>,
    /// bpfc: events delivered, lost, fired (the kernel's counters), getppid events among those delivered,
    /// consumer thread CPU time, resume-to-last-event wall time.
    events: u64,
    lost: u64,
    fired: u64,
    getppid_events: u64,
    consumer_cpu_ns: f64,
    wall_ns: f64,
}

/// Starts the workload; it stops itself before its loop.
fn start(workload: &Path, n: u64) -> Result<Child, Failed> {
    let child = Command::new(workload).args(["--stop", "getppid", &n.to_string()]).stdout(Stdio::piped()).spawn()?;
    let stat = format!("/proc/{}/stat", child.id());
    let t0 = Instant::now();
    while std::fs::read_to_string(&stat)?.rsplit_once(") ").and_then(|(_, r)| r.chars().next()) != Some('T') {
        if t0.elapsed() > Duration::from_secs(10) {
            return Err("the workload did not stop itself".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(child)
}

/// Waits for the workload and returns its loop time.
fn finish(child: Child) -> Result<f64, Failed> {
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ns = text.trim().strip_prefix("loop_ns ").and_then(|v| v.parse::<f64>().ok());
    ns.ok_or_else(|| format!("workload printed {text:?} ({})", out.status).into())
}

fn syscount(pid: u32) -> Result<input::Input, Failed> {
    let mut input = input::load(&examples_dir().join(EXAMPLE))?;
    set_target_pid(&mut input, pid)?;
    Ok(input)
}

fn counts_index(input: &input::Input) -> Result<usize, Failed> {
    input.maps.iter().position(|m| m.name == "counts").ok_or_else(|| "syscount has no `counts` map".into())
}

fn baseline(workload: &Path, n: u64) -> Result<Run, Failed> {
    let child = start(workload, n)?;
    resume(child.id())?;
    Ok(Run { loop_ns: finish(child)?, ..Run::default() })
}

/// syscount in the kernel; with `stats`, also the kernel's run time per invocation.
fn kernel(workload: &Path, n: u64, stats: bool) -> Result<Run, Failed> {
    let child = start(workload, n)?;
    let input = syscount(child.id())?;
    let obj = load(&input)?;
    let prog = obj.progs[0].as_fd();
    let _stats = if stats { Some(enable_stats(BPF_STATS_RUN_TIME)?) } else { None };
    let before = prog_info(prog)?;
    let link = attach_tracepoint(prog, "raw_syscalls", "sys_enter")?;
    resume(child.id())?;
    let loop_ns = finish(child)?;
    drop(link);
    let after = prog_info(prog)?;
    let count = map_lookup(&obj.maps[counts_index(&input)?], &GETPPID.to_le_bytes(), 0)?;
    let count = u64::from_le_bytes(count[..8].try_into()?);
    if count != n {
        return Err(format!("kernel: counts[getppid] = {count}, expected {n}").into());
    }
    let runs = after.run_cnt - before.run_cnt;
    let prog_ns = (stats && runs > 0).then(|| (after.run_time_ns - before.run_time_ns) as f64 / runs as f64);
    Ok(Run { loop_ns, prog_ns, events: n, ..Run::default() })
}

/// bpfc live: the runtime's LiveSource, and the AOT-compiled syscount on every event unless `source_only`.
fn bpfc(workload: &Path, n: u64, pages_log2: u32, source_only: bool) -> Result<Run, Failed> {
    let child = start(workload, n)?;
    let pid = child.id();
    let input = syscount(pid)?;
    let formats = TpFormats::dirs(vec![], true);
    let session = Session::new(&input, Engine::Aot, false, &formats)?;
    let attach: Vec<Attach> = input
        .programs
        .iter()
        .filter_map(|p| Attach::from_section(&p.section, Path::new(".")).transpose())
        .collect::<Result<_, LiveError>>()?;
    let stop = StopCondition { exit_of: Some(pid), ..StopCondition::default() };
    let mut source =
        LiveSource::open(&attach, LiveOptions { pid: Some(pid), stop, pages_log2, ..LiveOptions::default() })?;
    let mut log = RunLog::default();
    let cpu0 = thread_cpu_time();
    let t0 = Instant::now();
    resume(pid)?;
    let mut getppid_events = 0;
    for (i, event) in source.by_ref().enumerate() {
        // raw_syscalls:sys_enter: `long id` at offset 8.
        getppid_events += u64::from(event.ctx.get(8..16) == Some(&u64::from(GETPPID).to_le_bytes()[..]));
        if !source_only {
            session.run_event(&event, i + 1, None, &mut log);
            // `bpfc run --attach` prints these lines as it goes; printing is not what is measured here.
            log.lines.clear();
        }
    }
    let wall_ns = t0.elapsed().as_nanos() as f64;
    let consumer_cpu_ns = (thread_cpu_time() - cpu0).as_nanos() as f64;
    let loop_ns = finish(child)?;
    let st = source.stats().clone();
    if log.traps > 0 || (!source_only && log.runs as u64 != st.events) {
        return Err(format!("bpfc: {} runs, {} trapped, for {} events", log.runs, log.traps, st.events).into());
    }
    if !source_only {
        // Exact whatever was lost: the program must have counted every getppid event it was given.
        let maps = session.map_contents();
        let counts = &maps[counts_index(&input)?].1;
        let count = counts
            .iter()
            .find(|(k, _)| k[..] == GETPPID.to_le_bytes())
            .map_or(0, |(_, v)| u64::from_le_bytes(v[..8].try_into().unwrap_or_default()));
        if count != getppid_events {
            return Err(format!("bpfc: counts[getppid] = {count} for {getppid_events} getppid events delivered").into());
        }
    }
    Ok(Run {
        loop_ns,
        events: st.events,
        lost: st.lost,
        fired: st.fired,
        getppid_events,
        consumer_cpu_ns,
        wall_ns,
        ..Run::default()
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

const COLUMNS: [&str; 6] = ["baseline", "kernel", "kernel+stats", "bpfc source", "bpfc", "bpfc 512K"];
/// `bpfc run --attach`'s ring size (LiveOptions' default): 128 pages per CPU.
const DEFAULT_PAGES_LOG2: u32 = 7;
/// Bytes per raw_syscalls:sys_enter sample in a ring, rounded up (header, id, tid, time, cpu, raw record).
const SAMPLE_BYTES: u64 = 128;

fn main() -> Result<(), Failed> {
    // `cargo bench` passes `--bench`; positional arguments are ours.
    let args: Vec<u64> =
        std::env::args().skip(1).filter(|a| !a.starts_with('-')).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let n = args.first().copied().unwrap_or(1_000_000);
    let passes = args.get(1).copied().unwrap_or(3) as usize;
    // Rings that hold the whole run on one CPU, so that nothing needs to be lost however late the consumer
    // gets the CPU; 16 (256 MiB per CPU) at most.
    let fits = (DEFAULT_PAGES_LOG2..16).find(|p| 4096u64 << p >= n * SAMPLE_BYTES).unwrap_or(16);
    let pages_log2 = args.get(2).map_or(fits, |&p| p as u32);
    let dir: PathBuf = std::env::temp_dir().join(format!("bpfc-live-bench-{}", std::process::id()));
    build_targets(&dir)?;
    let workload = dir.join("workload");

    let kernel_ok = kernel_bpf_available().map_err(|e| eprintln!("!!! KERNEL COLUMNS SKIPPED: bpf() unusable: {e}"));
    let live_ok = bpfc_runtime::events::formats::tracefs_root()
        .map_err(|e| eprintln!("!!! BPFC COLUMNS SKIPPED: no tracefs: {e}"));
    println!(
        "N = {n} getppid calls, {passes} passes; bpfc rings {} KiB/CPU (`bpfc 512K`: {} KiB/CPU)",
        4 << pages_log2,
        4 << DEFAULT_PAGES_LOG2
    );
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); COLUMNS.len()];
    for pass in 1..=passes {
        for (c, name) in COLUMNS.iter().enumerate() {
            let r = match c {
                0 => baseline(&workload, n),
                1 | 2 if kernel_ok.is_err() => continue,
                1 => kernel(&workload, n, false),
                2 => kernel(&workload, n, true),
                _ if live_ok.is_err() => continue,
                3 => bpfc(&workload, n, pages_log2, true),
                4 => bpfc(&workload, n, pages_log2, false),
                _ => bpfc(&workload, n, DEFAULT_PAGES_LOG2, false),
            };
            let r = r.map_err(|e| format!("pass {pass}, {name}: {e}"))?;
            println!(
                "pass {pass} {name:<12} loop {:>7.1} ns/syscall{}{}",
                r.loop_ns / n as f64,
                r.prog_ns.map_or(String::new(), |p| format!(", program {p:.1} ns/run")),
                if c >= 3 {
                    format!(
                        ", {} events ({} getppid), {} lost, {} fired, consumer CPU {:.0} ns/event, {:.0} events/s end \
                         to end",
                        r.events,
                        r.getppid_events,
                        r.lost,
                        r.fired,
                        r.consumer_cpu_ns / r.events.max(1) as f64,
                        r.events as f64 * 1e9 / r.wall_ns
                    )
                } else {
                    String::new()
                }
            );
            // The workload made N + 2 traced system calls (getppid x N, write, exit_group): the perf events'
            // own counters should say so, and delivered + lost should add up to them. Neither is assumed.
            if c >= 3 && r.fired != n + 2 {
                println!(
                    "!!! pass {pass} {name}: the perf events counted {} of the {} system calls: {} never reached perf",
                    r.fired,
                    n + 2,
                    (n + 2).saturating_sub(r.fired)
                );
            }
            if c >= 3 && r.events + r.lost != r.fired {
                println!(
                    "!!! pass {pass} {name}: {} delivered + {} lost = {} != {} counted by the perf events",
                    r.events,
                    r.lost,
                    r.events + r.lost,
                    r.fired
                );
            }
            runs[c].push(r);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    report(n, &runs);
    Ok(())
}

/// The summary table: medians over the passes.
fn report(n: u64, runs: &[Vec<Run>]) {
    let med = |c: usize, f: &dyn Fn(&Run) -> f64| median(runs[c].iter().map(f).collect());
    let per_call = |r: &Run| r.loop_ns / n as f64;
    let rate = |r: &Run| r.events as f64 * 1e9 / r.wall_ns;
    let cpu = |r: &Run| r.consumer_cpu_ns / r.events.max(1) as f64;
    let base = med(0, &per_call);
    println!("\nmedians over the passes (workload: ns per getppid call; overhead: minus the baseline)");
    println!(
        "| column | workload ns/syscall | overhead ns/event | events/s processed | consumer CPU ns/event | lost |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for (c, name) in COLUMNS.iter().enumerate().filter(|(c, _)| !runs[*c].is_empty()) {
        let call = med(c, &per_call);
        let over = if c == 0 { "—".into() } else { format!("{:.0}", call - base) };
        let (rate, cpu, lost) = match c {
            0 => ("—".into(), "—".into(), "—".into()),
            1 | 2 => (format!("{:.0}", 1e9 / call), "— (runs in the workload)".into(), "0".into()),
            _ => (
                format!("{:.0}", med(c, &rate)),
                format!("{:.0}", med(c, &cpu)),
                format!("{:.1} %", med(c, &|r| 100.0 * r.lost as f64 / (r.events + r.lost).max(1) as f64)),
            ),
        };
        println!("| {name} | {call:.1} | {over} | {rate} | {cpu} | {lost} |");
    }
    for (c, name) in COLUMNS.iter().enumerate().skip(3).filter(|(c, _)| !runs[*c].is_empty()) {
        let short: Vec<u64> = runs[c].iter().map(|r| (n + 2).saturating_sub(r.fired)).filter(|&m| m > 0).collect();
        let over = runs[c].iter().filter(|r| r.events + r.lost > r.fired).count();
        if !short.is_empty() || over > 0 {
            println!(
                "{name}: in {} of {} passes perf counted fewer system calls than were made (short by {short:?}); in \
                 {over} delivered + lost exceeded perf's count",
                short.len(),
                runs[c].len()
            );
        }
    }
    if !runs[2].is_empty() {
        println!("kernel program run time (bpf_stats): {:.1} ns/run", med(2, &|r| r.prog_ns.unwrap_or(f64::NAN)));
    }
    if !runs[1].is_empty() && !runs[4].is_empty() {
        let k = med(1, &per_call) - base;
        let b = med(4, &per_call) - base;
        println!(
            "bpfc/kernel: overhead in the traced workload {:.1}x, events/s {:.2}x",
            b / k,
            med(4, &rate) / (1e9 / med(1, &per_call))
        );
        if !runs[2].is_empty() {
            println!(
                "bpfc consumer CPU per event / kernel program run time: {:.1}x",
                med(4, &cpu) / med(2, &|r| r.prog_ns.unwrap_or(f64::NAN))
            );
        }
    }
}
