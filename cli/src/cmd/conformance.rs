//! `bpfc conformance DIR [--engine NAME]`: one line per failing case, then `N passed, M failed`
//! (plus `, K skipped` when an engine lacks a feature, each skipped case named).

use anyhow::{Context, bail};
use bpfc_compiler::conformance::{
    CrossEngine, ENGINES, Engine, Verdict, data_files, engine, parse_file, run_case, scratch_path,
};
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
    /// With `--engine aot|aot-checked`: build for this target triple, link with its cross gcc and run the
    /// programs under qemu-user (e.g. aarch64-unknown-linux-gnu, riscv64gc-unknown-linux-gnu).
    #[arg(long)]
    target: Option<String>,
}

/// Runs every case of the folder.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = data_files(&args.dir).context("conformance")?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    let mut cases = Vec::new();
    for file in &files {
        match parse_file(file) {
            Ok(c) => cases.push(c),
            Err(e) => {
                println!("FAIL {}: cannot parse: {e}", file.display());
                failed += 1;
            }
        }
    }
    let engine: Box<dyn Engine> = match (&args.target, args.engine.as_str()) {
        (Some(target), "aot" | "aot-checked") => {
            let scratch = scratch_path("cross", "d");
            let engine = CrossEngine::prepare(&cases, target, args.engine == "aot-checked", &scratch);
            let _ = std::fs::remove_dir_all(&scratch);
            Box::new(engine.map_err(|e| anyhow::anyhow!("{target}: {e}"))?)
        }
        (Some(_), other) => bail!("--target needs --engine aot or aot-checked, not `{other}`"),
        (None, name) => match engine(name) {
            Some(e) => e,
            None => bail!("unknown engine `{name}` (known: {})", ENGINES.join(", ")),
        },
    };
    for case in &cases {
        match run_case(case, engine.as_ref()).verdict {
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
