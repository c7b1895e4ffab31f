//! `bpfc run INPUT (--events FILE | --attach [--duration S] [--pid PID] [-- CMD ARGS…]) [--prog NAME]
//! [--engine interp|jit|aot] [--checked]`: runs the programs of a BPF object (or a `bpfc build --shared`
//! library) on replayed events or on this machine's live tracepoints and uprobes, printing what each
//! invocation returned, its trace_printk output and ring buffer records, then every map. Ctrl-C ends a
//! live run cleanly (maps are still printed). `bpfc record` is the same live run that also writes the
//! events, with the memory the programs read, as a replay file.

use anyhow::{Context, bail};
use bpfc_compiler::btf::format::format_value;
use bpfc_compiler::input;
use bpfc_compiler::records::RecordTypes;
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::live_tp::{Attach, LiveOptions, LiveSource, StopCondition};
use bpfc_runtime::events::replay::{ReplayReader, ReplayWriter};
use bpfc_runtime::helpers::spec::reads_user_memory;
use bpfc_runtime::maps::hex;
use bpfc_runtime::native::NativeLibrary;
use bpfc_runtime::sys::process::{ctrl_c_flag, resume, spawn_stopped};
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `bpfc run`.
#[derive(clap::Args)]
pub struct Args {
    /// A clang BPF object, or a shared library built by `bpfc build --shared`.
    input: PathBuf,
    /// Replay file (JSON Lines, see docs/events.md).
    #[arg(long, conflicts_with = "attach", required_unless_present = "attach")]
    events: Option<PathBuf>,
    /// Attach every program to its live tracepoint or uprobe on this machine.
    #[arg(long)]
    pub(crate) attach: bool,
    /// With --attach: stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// With --attach: only events of this process (and children it starts).
    #[arg(long)]
    pid: Option<u32>,
    /// With --attach: write the live events as a replay file (what `bpfc record -o` does).
    #[arg(long, hide = true)]
    pub(crate) record: Option<PathBuf>,
    /// With --attach: run this command, started stopped and traced from its first instruction; the run
    /// ends when it exits.
    #[arg(last = true)]
    command: Vec<String>,
    /// Run only this program.
    #[arg(long)]
    prog: Option<String>,
    /// Engine: interp, jit or aot.
    #[arg(long, default_value = "jit")]
    engine: String,
    /// Bounds-check every memory access at run time.
    #[arg(long)]
    checked: bool,
    /// Folders with tracepoint `format` files (`CAT/NAME/format`), searched before tracefs.
    #[arg(long)]
    tp_formats: Vec<PathBuf>,
    /// Print per-program run counts and times at exit (the kernel's bpf_stats).
    #[arg(long)]
    stats: bool,
    /// Print ring buffer / perf records of MAP (or of every such map) as this BTF type, e.g.
    /// `events=struct open_event`. Without it a record is typed when exactly one struct in the object's
    /// BTF has its size.
    #[arg(long, value_name = "[MAP=]TYPE")]
    record_type: Vec<bpfc_compiler::records::RecordTypeArg>,
}

/// Opens `input` on `engine` (a `.so` is always the AOT engine); also returns the loaded object for
/// BTF-typed printing when the input was one.
pub fn open_session(
    input_path: &std::path::Path,
    engine: &str,
    checked: bool,
    formats: &TpFormats,
) -> anyhow::Result<(Session, Option<input::Input>)> {
    if input_path.extension().is_some_and(|e| e == "so") {
        return Ok((Session::from_library(NativeLibrary::open(input_path)?)?, None));
    }
    let Some(engine) = Engine::from_name(engine) else {
        bail!("unknown engine `{engine}` (known: interp, jit, aot)");
    };
    let input = input::load(input_path)?;
    let session = Session::new(&input, engine, checked, formats)?;
    Ok((session, Some(input)))
}

/// A map entry, typed by the object's BTF when it has types for that map (as bpftool prints), else hex.
fn format_entry(input: Option<&input::Input>, map: usize, key: &[u8], value: &[u8]) -> String {
    let typed = input.and_then(|i| i.object.as_ref()).and_then(|o| {
        let btf = o.btf.as_ref()?;
        let m = o.maps.get(map)?;
        let k = if m.btf_key_type_id != 0 { format_value(btf, m.btf_key_type_id, key) } else { hex(key) };
        let v = if m.btf_value_type_id != 0 { format_value(btf, m.btf_value_type_id, value) } else { hex(value) };
        (m.btf_key_type_id != 0 || m.btf_value_type_id != 0).then(|| format!("{k} => {v}"))
    });
    typed.unwrap_or_else(|| format!("{} => {}", hex(key), hex(value)))
}

/// Replays `events` through `session`.
pub fn replay(
    session: &Session,
    events: &std::path::Path,
    formats: &TpFormats,
    only: Option<&str>,
) -> anyhow::Result<RunLog> {
    let file = std::fs::File::open(events).with_context(|| format!("opening {}", events.display()))?;
    let mut log = RunLog::default();
    for (n, event) in ReplayReader::new(BufReader::new(file), events.display().to_string(), formats).enumerate() {
        session.run_event(&event?, n + 1, only, &mut log);
    }
    Ok(log)
}

/// Runs the programs on live events as they arrive, printing each line at once.
fn live(session: &Session, input: Option<&input::Input>, args: &Args) -> anyhow::Result<RunLog> {
    let base = args.input.parent().unwrap_or(std::path::Path::new("."));
    let mut attach: Vec<Attach> = Vec::new();
    for (name, section, _) in &session.programs {
        if args.prog.as_ref().is_some_and(|p| p != name) {
            continue;
        }
        if let Some(a) = Attach::from_section(section, base).with_context(|| format!("program `{name}`"))?
            && !attach.contains(&a)
        {
            attach.push(a);
        }
    }
    if attach.is_empty() {
        bail!("{}: no program has a live attach point", args.input.display());
    }
    let child = match args.command.split_first() {
        Some((program, rest)) => Some(spawn_stopped(program, rest).with_context(|| format!("starting `{program}`"))?),
        None => None,
    };
    let pid = args.pid.or(child.as_ref().map(|c| c.id()));
    let stop = StopCondition {
        duration: args.duration.map(Duration::from_secs_f64),
        flag: Some(ctrl_c_flag()),
        exit_of: child.as_ref().map(|c| c.id()),
        hold_exit: child.is_some(),
    };
    // Snapshot the user stack with each sample when a program reads user memory (unknown for a `.so`).
    let reads_user = input.is_none_or(|i| i.programs.iter().any(|p| reads_user_memory(&p.code)));
    let options = LiveOptions { pid, stop, ..LiveOptions::default() }.for_user_reads(reads_user);
    let mut source = LiveSource::open(&attach, options)?;
    if let Some(c) = &child {
        resume(c.id())?;
    }
    eprintln!(
        "bpfc: attached {} ({}); Ctrl-C to stop",
        attach.len(),
        if let Some(p) = pid { format!("pid {p}") } else { "all processes".into() }
    );
    let mut writer = match &args.record {
        Some(path) => Some(ReplayWriter::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        ))),
        None => None,
    };
    let mut log = RunLog::default();
    let mut n = 0;
    for mut event in source.by_ref() {
        n += 1;
        let recorded = writer.is_some().then(|| event.record_memory());
        session.run_event(&event, n, args.prog.as_deref(), &mut log);
        // Printed as they come and not kept: a live run may go on indefinitely (only the counts are used).
        for line in log.lines.drain(..) {
            println!("{line}");
        }
        log.ringbuf_records.clear();
        if let (Some(w), Some(r)) = (writer.as_mut(), recorded) {
            w.write(&event, &r.take())?;
        }
    }
    if let Some(c) = child {
        let status = c.wait()?;
        eprintln!("bpfc: `{}` exited with status {}", args.command.join(" "), libc_status(status));
    }
    let stats = source.stats();
    eprintln!("bpfc: {} events, {} lost", stats.events, stats.lost);
    if let Some(w) = writer {
        w.into_inner().into_inner().map_err(|e| e.into_error())?;
    }
    Ok(log)
}

fn libc_status(status: i32) -> String {
    if status & 0x7f == 0 { format!("{}", (status >> 8) & 0xff) } else { format!("signal {}", status & 0x7f) }
}

/// Runs the replay and prints the results.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let formats = TpFormats::dirs(args.tp_formats.clone(), true);
    let (mut session, input) = open_session(&args.input, &args.engine, args.checked, &formats)?;
    match &input {
        Some(i) => session.set_record_types(RecordTypes::new(i, &args.record_type)?),
        None if !args.record_type.is_empty() => {
            bail!("--record-type needs a BPF object (its BTF); {} is a shared library", args.input.display())
        }
        None => {}
    }
    if let Some(p) = &args.prog
        && !session.programs.iter().any(|(n, ..)| n == p)
    {
        bail!("{}: no program `{p}`", args.input.display());
    }
    session.binding().enable_stats(args.stats);
    let log = match &args.events {
        Some(events) => {
            let log = replay(&session, events, &formats, args.prog.as_deref())?;
            for line in &log.lines {
                println!("{line}");
            }
            log
        }
        None => live(&session, input.as_ref(), &args)?,
    };
    println!("{} invocations, {} trapped ({} engine)", log.runs, log.traps, session.engine().name());
    for (i, s) in session.binding().stats().iter().enumerate().filter(|(_, s)| s.run_cnt > 0) {
        let avg = s.run_time_ns / s.run_cnt;
        println!("stats {}: run_cnt {} run_time_ns {} ({avg} ns/run)", session.programs[i].0, s.run_cnt, s.run_time_ns);
    }
    for (i, (name, elems)) in session.map_contents().into_iter().enumerate() {
        println!("map {name}: {} entries", elems.len());
        for (k, v) in elems {
            println!("  {}", format_entry(input.as_ref(), i, &k, &v));
        }
    }
    Ok(if log.traps > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
