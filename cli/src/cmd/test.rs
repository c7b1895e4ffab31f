//! `bpfc test INPUT --events FILE`: runs every program of the object on every engine (interpreter, JIT,
//! JIT in checked mode, AOT) over the same replayed events and prints where they differ from the
//! interpreter — invocation results, trace output, ring buffer records and final map contents. Exit status
//! 1 on any difference. The regression tool to point at your own objects.

use super::run::replay;
use anyhow::Context;
use bpfc_compiler::input;
use bpfc_compiler::session::{Engine, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::maps::hex;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc test`.
#[derive(clap::Args)]
pub struct Args {
    /// A clang BPF object.
    input: PathBuf,
    /// Replay file (JSON Lines, see docs/events.md).
    #[arg(long)]
    events: PathBuf,
    /// Folders with tracepoint `format` files, searched before tracefs.
    #[arg(long)]
    tp_formats: Vec<PathBuf>,
}

/// Runs the comparison.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input = input::load(&args.input)?;
    let formats = TpFormats::dirs(args.tp_formats.clone(), true);
    let reference = Session::new(&input, Engine::Interp, false, &formats)?;
    let want = replay(&reference, &args.events, &formats, None)?;
    let want_maps = reference.map_contents();
    println!("interp: {} invocations, {} trapped", want.runs, want.traps);
    let mut differences = 0;
    for (engine, checked) in [(Engine::Jit, false), (Engine::Jit, true), (Engine::Aot, false)] {
        let label = format!("{}{}", engine.name(), if checked { "-checked" } else { "" });
        let session = Session::new(&input, engine, checked, &formats).with_context(|| label.clone())?;
        let got = replay(&session, &args.events, &formats, None)?;
        let mut diffs = Vec::new();
        for i in 0..want.lines.len().max(got.lines.len()) {
            let (a, b) = (want.lines.get(i), got.lines.get(i));
            if a != b {
                diffs.push(format!(
                    "  line {}:\n    interp: {}\n    {label}: {}",
                    i + 1,
                    a.map_or("(none)", String::as_str),
                    b.map_or("(none)", String::as_str)
                ));
            }
        }
        for ((name, a), (_, b)) in want_maps.iter().zip(session.map_contents()) {
            if *a != b {
                let show = |e: &[(Vec<u8>, Vec<u8>)]| {
                    e.iter().map(|(k, v)| format!("{} => {}", hex(k), hex(v))).collect::<Vec<_>>().join("; ")
                };
                diffs.push(format!("  map {name}:\n    interp: {}\n    {label}: {}", show(a), show(&b)));
            }
        }
        if diffs.is_empty() {
            println!("{label}: identical ({} invocations)", got.runs);
        } else {
            differences += diffs.len();
            println!("{label}: {} differences", diffs.len());
            for d in diffs.iter().take(20) {
                println!("{d}");
            }
        }
    }
    println!(
        "kernel: not compared — BPF_PROG_TEST_RUN cannot run {} programs on recorded contexts",
        reference
            .programs
            .iter()
            .map(|p| format!("{:?}", p.2))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join("/")
    );
    Ok(if differences > 0 || want.traps > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
