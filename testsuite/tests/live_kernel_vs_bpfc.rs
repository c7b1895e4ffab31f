//! The kernel as a second home: the same example object runs in this machine's kernel (loaded with
//! BPF_PROG_LOAD, attached to its tracepoint with perf_event_open + PERF_EVENT_IOC_SET_BPF, as
//! samples/bpf does) and in bpfc (AOT native code on the live tracepoint, as `bpfc run --attach`), each on
//! a run of the same deterministic workload that it filters to through the example's `const volatile
//! target_pid`. Every map the program writes must then hold the same entries, with the workload's pid
//! (which differs between the two runs) normalised.
//!
//! Why two runs rather than one: when a BPF program is attached to a tracepoint, its return value decides
//! whether the kernel records the event for perf at all (`perf_trace_run_bpf_submit`); the examples
//! return 0, so while the kernel's copy is attached bpfc's perf events would see nothing.
//!
//! Ring buffer records are compared too, as sequences: the kernel's are read from the map's mmapped ring
//! (`KernelRingBuf`), bpfc's from its run log, pid normalised the same way.
//!
//! Needs root, bpf() and tracefs; where one is missing every trial fails loudly with what is missing
//! (this machine and CI have them).

use bpfc_compiler::btf::Kind;
use bpfc_compiler::input;
use bpfc_compiler::kernel::{attach_tracepoint, attach_uprobe, load};
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::live_tp::{Attach, LiveOptions, LiveSource, StopCondition};
use bpfc_runtime::helpers::spec::reads_user_memory;
use bpfc_runtime::sys::bpf::{KernelRingBuf, MapFd, map_get_next_key, map_lookup};
use bpfc_runtime::sys::process::{resume, spawn_stopped};
use bpfc_testsuite::examples::{build_targets, set_target_pid};
use libtest_mimic::{Arguments, Failed, Trial};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the example workloads once into a scratch folder.
fn workload_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("bpfc-live-{}", std::process::id()));
    build_targets(&dir)?;
    Ok(dir)
}

/// A map's entries, sorted.
type Entries = Vec<(Vec<u8>, Vec<u8>)>;
/// Comparable maps by name.
type Maps = Vec<(String, Entries)>;
/// Ring buffer records by map, in submission order.
type Records = Vec<(String, Vec<u8>)>;

/// What one side produced.
struct Outcome {
    maps: Maps,
    records: Records,
}

/// Per-CPU values as one value: which CPU the workload's events ran on is up to the scheduler, so the
/// per-CPU copies (`round_up(value_size, 8)` bytes each) are summed word by word.
fn fold_percpu(entries: Entries, map_type: u32, value_size: u32) -> Entries {
    if !matches!(map_type, 5 | 6 | 10) {
        return entries;
    }
    let stride = value_size.div_ceil(8) as usize * 8;
    entries
        .into_iter()
        .map(|(k, v)| {
            let mut sum = vec![0u8; stride];
            for cpu in v.chunks(stride) {
                for (i, w) in cpu.chunks_exact(8).enumerate() {
                    let a = u64::from_le_bytes(sum[8 * i..8 * i + 8].try_into().unwrap());
                    let b = u64::from_le_bytes(w.try_into().unwrap());
                    sum[8 * i..8 * i + 8].copy_from_slice(&a.wrapping_add(b).to_le_bytes());
                }
            }
            (k, sum)
        })
        .collect()
}

fn kernel_entries(map: &MapFd) -> Result<Entries, String> {
    let mut out = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    while let Ok(next) = map_get_next_key(map, key.as_deref()) {
        let value = map_lookup(map, &next, 0).map_err(|e| e.to_string())?;
        out.push((next.clone(), value));
        key = Some(next);
    }
    out.sort();
    Ok(out)
}

/// Maps compared: plain data maps (not ring buffers, perf arrays, program arrays or maps of maps, whose
/// values are kernel object ids or records).
fn comparable(map_type: u32) -> bool {
    !matches!(map_type, 3 | 4 | 12 | 13 | 27)
}

/// `b` with the 4-byte little-endian `pid` replaced wherever it is aligned, so runs of the same workload
/// under different pids compare equal.
fn without_pid(b: &[u8], pid: u32) -> Vec<u8> {
    let mut b = b.to_vec();
    for chunk in b.chunks_exact_mut(4) {
        if chunk == pid.to_le_bytes() {
            chunk.copy_from_slice(&[0xaa; 4]);
        }
    }
    b
}

/// Map entries with the pid normalised, sorted.
fn normalise(entries: &[(Vec<u8>, Vec<u8>)], pid: u32) -> Entries {
    let mut out: Vec<_> = entries.iter().map(|(k, v)| (without_pid(k, pid), without_pid(v, pid))).collect();
    out.sort();
    out
}

/// Runs the workload with the example in the kernel; returns the comparable maps' entries and the ring
/// buffer records.
fn kernel_run(example: &str, program: &str, args: &[String]) -> Result<Outcome, String> {
    let child = spawn_stopped(program, args).map_err(|e| format!("{program}: {e}"))?;
    let pid = child.id();
    let mut input = input::load(&repo().join("examples").join(example)).map_err(|e| e.to_string())?;
    set_target_pid(&mut input, pid)?;
    let kernel = load(&input).map_err(|e| e.to_string())?;
    let base = Path::new(program).parent().unwrap_or(Path::new("."));
    let mut links = Vec::new();
    for (i, p) in input.programs.iter().enumerate() {
        let link = match Attach::from_section(&p.section, base).map_err(|e| e.to_string())? {
            Some(Attach::Tracepoint { category, name }) => attach_tracepoint(kernel.progs[i].as_fd(), &category, &name),
            Some(Attach::Uprobe(spec)) => attach_uprobe(kernel.progs[i].as_fd(), &spec),
            Some(other) => return Err(format!("{other:?} cannot be attached by this test")),
            None => continue,
        };
        links.push(link.map_err(|e| format!("attaching `{}` in the kernel: {e}", p.name))?);
    }
    let mut rings = Vec::new();
    for (i, m) in input.maps.iter().enumerate() {
        if m.map_type == RINGBUF {
            rings.push((m.name.clone(), KernelRingBuf::open(&kernel.maps[i]).map_err(|e| e.to_string())?));
        }
    }
    resume(pid).map_err(|e| e.to_string())?;
    child.wait().map_err(|e| e.to_string())?;
    drop(links);
    // Read once the workload is done: these workloads produce a few records, far below the examples'
    // 256 KiB rings (a full ring would drop records, which the comparison would show).
    let mut records = Vec::new();
    for (name, ring) in &mut rings {
        records.extend(ring.drain().into_iter().map(|r| (name.clone(), without_pid(&r, pid))));
    }
    let mut out = Vec::new();
    for (i, m) in input.maps.iter().enumerate().take(kernel.maps.len()) {
        if comparable(m.map_type) {
            let entries = fold_percpu(kernel_entries(&kernel.maps[i])?, m.map_type, m.value_size);
            out.push((m.name.clone(), normalise(&entries, pid)));
        }
    }
    Ok(Outcome { maps: out, records })
}

/// Runs the workload with the example in bpfc (AOT, live tracepoints); returns the same maps and records.
fn bpfc_run(example: &str, program: &str, args: &[String]) -> Result<Outcome, String> {
    let child = spawn_stopped(program, args).map_err(|e| format!("{program}: {e}"))?;
    let pid = child.id();
    let mut input = input::load(&repo().join("examples").join(example)).map_err(|e| e.to_string())?;
    set_target_pid(&mut input, pid)?;
    let base = Path::new(program).parent().unwrap_or(Path::new("."));
    let mut attach = Vec::new();
    for p in &input.programs {
        if let Some(a) = Attach::from_section(&p.section, base).map_err(|e| e.to_string())? {
            attach.push(a);
        }
    }
    let formats = TpFormats::dirs(vec![], true);
    let session = Session::new(&input, Engine::Aot, false, &formats).map_err(|e| e.to_string())?;
    let stop = StopCondition { exit_of: Some(pid), hold_exit: true, ..StopCondition::default() };
    let reads_user = input.programs.iter().any(|p| reads_user_memory(&p.code));
    let options = LiveOptions { pid: Some(pid), stop, ..LiveOptions::default() }.for_user_reads(reads_user);
    let mut source = LiveSource::open(&attach, options).map_err(|e| e.to_string())?;
    resume(pid).map_err(|e| e.to_string())?;
    let mut log = RunLog::default();
    for (n, event) in source.by_ref().enumerate() {
        session.run_event(&event, n + 1, None, &mut log);
    }
    let lost = source.stats().lost;
    child.wait().map_err(|e| e.to_string())?;
    if log.runs == 0 || log.traps > 0 || lost > 0 {
        return Err(format!("bpfc: {} invocations, {} trapped, {lost} events lost", log.runs, log.traps));
    }
    let ours = session.map_contents();
    let maps = input
        .maps
        .iter()
        .enumerate()
        .filter(|(_, m)| comparable(m.map_type))
        .map(|(i, m)| (m.name.clone(), normalise(&fold_percpu(ours[i].1.clone(), m.map_type, m.value_size), pid)))
        .collect();
    let records = log.ringbuf_records.iter().map(|(name, r)| (name.clone(), without_pid(r, pid))).collect();
    Ok(Outcome { maps, records })
}

/// Maps left out per example, with the reason: execsnoop's `scratch` is the record it assembles, whose
/// `ppid` comes from `task->real_parent->tgid` — kernel memory that a user-space runtime cannot read
/// (bpfc's `bpf_probe_read_kernel` returns -EFAULT and zeroes, as the kernel does on a fault).
const IGNORED: &[(&str, &str)] = &[("execsnoop.bpf.o", "scratch")];

/// Record fields left out (example, struct, field), for the same reason: execsnoop's `ppid`.
const IGNORED_FIELDS: &[(&str, &str, &str)] = &[("execsnoop.bpf.o", "exec_event", "ppid")];

const RINGBUF: u32 = 27;

/// Byte ranges of the ignored record fields of `example`, from its BTF.
fn ignored_ranges(example: &str) -> Result<Vec<std::ops::Range<usize>>, String> {
    let input = input::load(&repo().join("examples").join(example)).map_err(|e| e.to_string())?;
    let btf = input.object.as_ref().and_then(|o| o.btf.as_ref()).ok_or("no BTF")?;
    let mut out = Vec::new();
    for &(_, st, field) in IGNORED_FIELDS.iter().filter(|f| f.0 == example) {
        let id = btf.find_by_name(st, |k| matches!(k, Kind::Struct { .. })).ok_or(format!("no struct {st}"))?;
        let Kind::Struct { members, .. } = &btf.ty(id).kind else { unreachable!("found as a struct") };
        let m = members.iter().find(|m| btf.str_at(m.name_off) == field).ok_or(format!("no {st}.{field}"))?;
        let size = btf.resolve_size(m.ty).map_err(|e| e.to_string())? as usize;
        let start = m.bit_offset as usize / 8;
        out.push(start..start + size);
    }
    Ok(out)
}

/// `records` with the ignored byte ranges zeroed.
fn masked(records: &Records, ranges: &[std::ops::Range<usize>]) -> Records {
    let mut out = records.clone();
    for (_, r) in &mut out {
        for range in ranges {
            if range.end <= r.len() {
                r[range.clone()].fill(0);
            }
        }
    }
    out
}

/// Runs the comparison; a difference is retried once with fresh runs of both sides, and the first one is
/// printed. Why: perf's tracepoint events occasionally miss a few percent of a task's system calls
/// without reporting any loss (seen in 8 of 147 runs of the `live` bench, which knows the exact count,
/// and about once in 40 runs of this test on a loaded machine); two misses in a row have not been seen,
/// while a real semantic difference repeats every time.
fn run_case(example: &str, workload: &[&str]) -> Result<(), Failed> {
    bpfc_runtime::sys::bpf::kernel_bpf_available()?;
    let dir = workload_dir()?;
    let program = dir.join(workload[0]).display().to_string();
    let args: Vec<String> = workload[1..].iter().map(|s| s.to_string()).collect();
    let first = compare_once(example, &program, &args);
    let result = match first {
        Err(e) => {
            eprintln!("live::{example}: first attempt differed, retrying once: {}", e.message().unwrap_or("?"));
            compare_once(example, &program, &args)
        }
        ok => ok,
    };
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn compare_once(example: &str, program: &str, args: &[String]) -> Result<(), Failed> {
    let theirs = kernel_run(example, program, args)?;
    let ours = bpfc_run(example, program, args)?;
    if theirs.maps.is_empty() {
        return Err("no map compared".into());
    }
    let ranges = ignored_ranges(example)?;
    let (k, b) = (masked(&theirs.records, &ranges), masked(&ours.records, &ranges));
    if k != b {
        let at = k.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(k.len().min(b.len()));
        let show = |r: Option<&(String, Vec<u8>)>| r.map_or("(none)".into(), |(m, v)| format!("{m}: {v:02x?}"));
        return Err(format!(
            "ring buffer records differ: kernel {} records, bpfc {}; first difference at record {at}\nkernel: {}\nbpfc:   {}",
            k.len(),
            b.len(),
            show(k.get(at)),
            show(b.get(at))
        )
        .into());
    }
    for ((name, k), (_, b)) in theirs.maps.iter().zip(&ours.maps) {
        if IGNORED.contains(&(example, name.as_str())) {
            continue;
        }
        if k != b {
            return Err(format!("map `{name}` differs\nkernel: {k:02x?}\nbpfc:   {b:02x?}").into());
        }
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let cases: [(&str, &[&str]); 6] = [
        ("syscount.bpf.o", &["workload", "syscalls"]),
        ("globals.bpf.o", &["workload", "write"]),
        ("opensnoop.bpf.o", &["workload", "open"]),
        ("execsnoop.bpf.o", &["workload", "exec"]),
        ("maps_zoo.bpf.o", &["workload", "syscalls"]),
        ("uprobe_compute.bpf.o", &["uprobe_target"]),
    ];
    let trials = cases
        .into_iter()
        .map(|(example, workload)| Trial::test(format!("live::{example}"), move || run_case(example, workload)))
        .collect();
    // One at a time: concurrent workloads would each see the other's tracepoint traffic in the kernel.
    let args = Arguments { test_threads: Some(1), ..args };
    libtest_mimic::run(&args, trials).exit();
}
