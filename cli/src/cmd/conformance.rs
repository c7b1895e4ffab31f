//! `bpfc conformance DIR [--engine NAME]`: one line per failing case, then `N passed, M failed`
//! (plus `, K skipped` when an engine lacks a feature, each skipped case named).

use anyhow::{Context, bail};
use bpfc_compiler::conformance::{ENGINES, Verdict, data_files, engine, parse_file, run_case};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc conformance`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of bpf_conformance `.data` files.
    dir: PathBuf,
    /// Engine to run the programs on.
    #[arg(long, default_value = "interp")]
    engine: String,
}

/// Runs every case of the folder.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let Some(engine) = engine(&args.engine) else {
        bail!("unknown engine `{}` (known: {})", args.engine, ENGINES.join(", "));
    };
    let files = data_files(&args.dir).context("conformance")?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for file in &files {
        let case = match parse_file(file) {
            Ok(c) => c,
            Err(e) => {
                println!("FAIL {}: cannot parse: {e}", file.display());
                failed += 1;
                continue;
            }
        };
        match run_case(&case, engine.as_ref()).verdict {
            Verdict::Pass => passed += 1,
            Verdict::Fail { expected, got } => {
                println!("FAIL {}: expected {expected}, got {got}", case.name);
                failed += 1;
            }
            Verdict::Skip { reason } => {
                println!("SKIP {}: {reason}", case.name);
                skipped += 1;
            }
        }
    }
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
