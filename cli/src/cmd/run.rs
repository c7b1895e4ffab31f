//! `bpfc run INPUT --events FILE [--prog NAME] [--engine interp|jit|aot] [--checked]`: runs the programs
//! of a BPF object (or a `bpfc build --shared` library) on replayed events, printing what each
//! invocation returned, its trace_printk output and ring buffer records, then every map.

use anyhow::{Context, bail};
use bpfc_compiler::input;
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::replay::ReplayReader;
use bpfc_runtime::maps::hex;
use bpfc_runtime::native::NativeLibrary;
use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc run`.
#[derive(clap::Args)]
pub struct Args {
    /// A clang BPF object, or a shared library built by `bpfc build --shared`.
    input: PathBuf,
    /// Replay file (JSON Lines, see docs/events.md).
    #[arg(long)]
    events: PathBuf,
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
}

/// Opens `input` on `engine` (a `.so` is always the AOT engine).
pub fn open_session(input_path: &std::path::Path, engine: &str, checked: bool) -> anyhow::Result<Session> {
    if input_path.extension().is_some_and(|e| e == "so") {
        return Ok(Session::from_library(NativeLibrary::open(input_path)?)?);
    }
    let Some(engine) = Engine::from_name(engine) else {
        bail!("unknown engine `{engine}` (known: interp, jit, aot)");
    };
    let input = input::load(input_path)?;
    Ok(Session::new(&input, engine, checked)?)
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

/// Runs the replay and prints the results.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let session = open_session(&args.input, &args.engine, args.checked)?;
    if let Some(p) = &args.prog
        && !session.programs.iter().any(|(n, ..)| n == p)
    {
        bail!("{}: no program `{p}`", args.input.display());
    }
    let formats = TpFormats::dirs(args.tp_formats.clone(), true);
    let log = replay(&session, &args.events, &formats, args.prog.as_deref())?;
    for line in &log.lines {
        println!("{line}");
    }
    println!("{} invocations, {} trapped ({} engine)", log.runs, log.traps, session.engine().name());
    for (name, elems) in session.map_contents() {
        println!("map {name}: {} entries", elems.len());
        for (k, v) in elems {
            println!("  {} => {}", hex(&k), hex(&v));
        }
    }
    Ok(if log.traps > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
