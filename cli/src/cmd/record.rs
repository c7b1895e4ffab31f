//! `bpfc record INPUT --attach [...] -o events.jsonl`: a live `bpfc run` that also writes every event —
//! with the memory the programs read through `bpf_probe_read*` — as a replay file, so any live run can
//! be replayed on every engine (`bpfc run --events`, `bpfc test`).

use anyhow::bail;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc record`.
#[derive(clap::Args)]
#[group(id = "record_args")]
pub struct Args {
    #[command(flatten)]
    run: super::run::Args,
    /// The replay file to write.
    #[arg(short, long)]
    output: PathBuf,
}

/// Runs live and records.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut inner = args.run;
    if !inner.attach {
        bail!("bpfc record needs --attach (it records live events)");
    }
    inner.record = Some(args.output.clone());
    let code = super::run::run(inner)?;
    eprintln!("bpfc: wrote {}", args.output.display());
    Ok(code)
}
