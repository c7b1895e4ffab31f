//! `bpfc test INPUT --events FILE`: runs every program of the object on every engine (interpreter, JIT,
//! JIT in checked mode, AOT) over the same replayed events and prints where they differ from the
//! interpreter — invocation results, trace output, ring buffer records and final map contents — then the
//! kernel column: the programs the kernel can test-run, run through `BPF_PROG_TEST_RUN` and compared with
//! the interpreter under the kernel's conditions (`bpfc_compiler::kernel_replay`). Exit status 1 on any
//! difference. The regression tool to point at your own objects.

use super::run::replay;
use anyhow::Context;
use bpfc_compiler::input;
use bpfc_compiler::kernel_replay::{self, KernelColumn, KernelColumnError};
use bpfc_compiler::session::{Engine, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::replay::ReplayReader;
use bpfc_runtime::maps::hex;
use std::collections::BTreeSet;
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
    differences += kernel_column(&input, &args, &formats)?;
    Ok(if differences > 0 || want.traps > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Runs and prints the kernel column; returns the number of differences that count.
fn kernel_column(input: &input::Input, args: &Args, formats: &TpFormats) -> anyhow::Result<usize> {
    let untestable = kernel_replay::untestable(input);
    let untestable_note = || {
        let types: BTreeSet<String> = untestable.iter().map(|(.., t)| format!("{t:?}")).collect();
        let names: Vec<String> = untestable.iter().map(|(n, s, _)| format!("{n} in {s}")).collect();
        format!(
            "BPF_PROG_TEST_RUN cannot run {} programs ({})",
            types.into_iter().collect::<Vec<_>>().join("/"),
            names.join(", ")
        )
    };
    let column = match KernelColumn::new(input, formats) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("kernel: not compared — {}", untestable_note());
            return Ok(0);
        }
        Err(e @ KernelColumnError::Unavailable(_)) => {
            println!("kernel: not compared — {e}");
            return Ok(0);
        }
        Err(e @ KernelColumnError::Load(_)) => {
            println!("kernel: 1 difference\n  {e}");
            return Ok(1);
        }
        Err(e) => return Err(e.into()),
    };
    let mut column = column;
    let file = std::fs::File::open(&args.events).with_context(|| format!("opening {}", args.events.display()))?;
    let reader = ReplayReader::new(std::io::BufReader::new(file), args.events.display().to_string(), formats);
    for (n, event) in reader.enumerate() {
        column.run_event(&event?, n + 1);
    }
    let report = column.finish();
    let label = format!("kernel ({})", report.tested.join(", "));
    if report.differences.is_empty() {
        println!("{label}: identical ({} invocations)", report.runs);
    } else {
        println!("{label}: {} differences in {} invocations", report.differences.len(), report.runs);
        for d in report.differences.iter().take(20) {
            println!("  {d}");
        }
        if report.differences_expected() {
            for (prog, helpers) in &report.unreproducible {
                println!("  expected: {prog} calls {}, whose answers differ in the kernel", helpers.join(", "));
            }
            println!("  (kernel differences not counted in the exit status)");
        }
    }
    println!(
        "  conditions: current task = this thread, CPU = the event's, no recorded memory (pointers into it \
         become {:#x}), the kernel's clock",
        kernel_replay::UNREADABLE_ADDR
    );
    for (n, why) in &report.skipped {
        println!("  event {n}: not run — {why}");
    }
    for (name, why) in &report.maps_not_compared {
        println!("  map {name}: not compared — {why}");
    }
    if report.uncompared_output {
        println!("  trace_printk output and ring buffer/perf records are not compared with the kernel");
    }
    if !untestable.is_empty() {
        println!("  not compared: {}", untestable_note());
    }
    Ok(report.counted_differences())
}
