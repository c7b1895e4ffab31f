//! Every bundled example on every engine: each replay file in `examples/events/` names (in its first
//! comment line, after the last `:`) the examples it is for; each of those runs on the interpreter, the
//! JIT (verified style and checked), and an AOT shared library, from both the `-mcpu=v3` and `-mcpu=v4`
//! objects. The invocation log (results, trace output, ring buffer records, traps) and every map must be
//! identical across engines, no invocation may trap, and a few hand-derived expectations from the
//! workloads (examples/README.md) are checked outright.

use bpfc_compiler::input;
use bpfc_compiler::session::{Engine, MapContents, RunLog, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::replay::parse_str;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

fn run(object: &Path, events: &Path, engine: Engine, checked: bool) -> Result<(RunLog, Vec<MapContents>), String> {
    let input = input::load(object).map_err(|e| e.to_string())?;
    let formats = TpFormats::dirs(vec![examples().join("events/formats")], false);
    let session = Session::new(&input, engine, checked, &formats).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(events).map_err(|e| e.to_string())?;
    let parsed = parse_str(&text, &events.display().to_string(), &formats).map_err(|e| e.to_string())?;
    let mut log = RunLog::default();
    for (n, event) in parsed.iter().enumerate() {
        session.run_event(event, n + 1, None, &mut log);
    }
    Ok((log, session.map_contents()))
}

/// Hand-derived results of the `syscalls` workload: getpid ×1, getppid ×2, getuid ×3, getgid ×4,
/// exit_group ×1 (examples/README.md).
fn check_syscount(maps: &[MapContents]) -> Result<(), String> {
    let counts = maps.iter().find(|(n, _)| n == "counts").ok_or("no `counts` map")?;
    let mut got: Vec<(u32, u64)> = counts
        .1
        .iter()
        .map(|(k, v)| (u32::from_le_bytes(k[..4].try_into().unwrap()), u64::from_le_bytes(v[..8].try_into().unwrap())))
        .collect();
    got.sort();
    let want = vec![(39, 1), (102, 3), (104, 4), (110, 2), (231, 1)];
    if got != want {
        return Err(format!("syscount counts {got:?}, the workload makes {want:?}"));
    }
    Ok(())
}

fn u64s(maps: &[MapContents], name: &str) -> Result<Vec<(u32, u64)>, String> {
    let m = maps.iter().find(|(n, _)| n == name).ok_or(format!("no `{name}` map"))?;
    Ok(m.1
        .iter()
        .map(|(k, v)| (u32::from_le_bytes(k[..4].try_into().unwrap()), u64::from_le_bytes(v[..8].try_into().unwrap())))
        .filter(|&(_, v)| v != 0)
        .collect())
}

/// runqlat on `runqlat.jsonl`: latencies of 1000, 70000 and 1 ns land in log2 buckets 9, 16 and 0
/// (through the `bpf_loop` callback); stats are 3 wakeups, 3 measured, 71001 ns in total.
fn check_runqlat(maps: &[MapContents]) -> Result<(), String> {
    let hist = u64s(maps, "hist")?;
    if hist != [(0, 1), (9, 1), (16, 1)] {
        return Err(format!("runqlat histogram {hist:?}"));
    }
    let stats = u64s(maps, "stats")?;
    if stats != [(0, 3), (1, 3), (2, 71001)] {
        return Err(format!("runqlat stats {stats:?}"));
    }
    Ok(())
}

/// syscall_add on `syscall_add.jsonl`: sums 3, 10, 10 written back and totalled; the read through the
/// recorded pointer of the second context succeeds (read_err 0), the NULL one fails with -ERANGE.
fn check_syscall_add(log: &RunLog, maps: &[MapContents]) -> Result<(), String> {
    let total = u64s(maps, "total")?;
    if total != [(0, 23)] {
        return Err(format!("syscall_add total {total:?}"));
    }
    let ctxs: Vec<&str> = log.lines.iter().filter_map(|l| l.strip_prefix("  ctx: ")).collect();
    let word = |c: &str, i: usize| c.get(16 * i..16 * i + 16).map(str::to_string);
    let got: Vec<(Option<String>, Option<String>)> = ctxs.iter().map(|c| (word(c, 1), word(c, 3))).collect();
    let want: Vec<(Option<String>, Option<String>)> = [
        ("0300000000000000", "deffffffffffffff"),
        ("0a00000000000000", "0000000000000000"),
        ("0a00000000000000", "deffffffffffffff"),
    ]
    .iter()
    .map(|(s, e)| (Some(s.to_string()), Some(e.to_string())))
    .collect();
    if got != want {
        return Err(format!("syscall_add contexts written back: {ctxs:?}"));
    }
    Ok(())
}

fn trial(example: String, object: PathBuf, events: PathBuf) -> Trial {
    let name =
        format!("{}::{}", object.file_name().unwrap().to_string_lossy(), events.file_stem().unwrap().to_string_lossy());
    Trial::test(name, move || {
        let (want_log, want_maps) = run(&object, &events, Engine::Interp, false)?;
        if want_log.runs == 0 {
            return Err(Failed::from("no program ran on any event"));
        }
        if want_log.traps > 0 {
            return Err(format!("interpreter trapped:\n{}", want_log.lines.join("\n")).into());
        }
        match example.as_str() {
            "syscount" => check_syscount(&want_maps)?,
            "runqlat" => check_runqlat(&want_maps)?,
            "syscall_add" => check_syscall_add(&want_log, &want_maps)?,
            _ => {}
        }
        for (engine, checked) in [(Engine::Jit, false), (Engine::Jit, true), (Engine::Aot, false)] {
            let (log, maps) = run(&object, &events, engine, checked)?;
            let label = format!("{}{}", engine.name(), if checked { "-checked" } else { "" });
            if log != want_log {
                let diff: Vec<String> = want_log
                    .lines
                    .iter()
                    .zip(&log.lines)
                    .filter(|(a, b)| a != b)
                    .take(5)
                    .map(|(a, b)| format!("interp: {a}\n{label}: {b}"))
                    .collect();
                return Err(format!("{label} log differs from the interpreter's:\n{}", diff.join("\n")).into());
            }
            if maps != want_maps {
                return Err(format!("{label} maps differ from the interpreter's").into());
            }
        }
        Ok(())
    })
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    let dir = examples().join("events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "jsonl")).collect()
        })
        .unwrap_or_default();
    files.sort();
    if files.is_empty() {
        trials.push(Trial::test("replay_files", move || Err(format!("no replay files in {}", dir.display()).into())));
    }
    for events in files {
        let first = std::fs::read_to_string(&events).unwrap_or_default().lines().next().unwrap_or("").to_string();
        let names = first.rsplit_once(':').map(|(_, n)| n.to_string()).unwrap_or_default();
        for example in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            for suffix in ["bpf.o", "v4.bpf.o"] {
                let object = examples().join(format!("{example}.{suffix}"));
                trials.push(trial(example.to_string(), object, events.clone()));
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
