//! `bpfc asm FILE -o OUT`: assembles the conformance (uBPF) assembly dialect into raw bytecode. A `.data`
//! file contributes its `-- asm`/`-- raw` program.

use anyhow::Context;
use bpfc_compiler::conformance::parse_file;
use bpfc_runtime::isa::assemble;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc asm`.
#[derive(clap::Args)]
pub struct Args {
    /// Assembly text, or a `.data` conformance file.
    file: PathBuf,
    /// Where to write the bytecode.
    #[arg(short, long)]
    output: PathBuf,
}

/// Writes the bytecode.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = if args.file.extension().is_some_and(|e| e == "data") {
        parse_file(&args.file)?.code
    } else {
        let text = std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
        assemble(&text).with_context(|| format!("assembling {}", args.file.display()))?
    };
    std::fs::write(&args.output, &bytes).with_context(|| format!("writing {}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}
