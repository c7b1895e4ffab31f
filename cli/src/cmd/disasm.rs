//! `bpfc disasm FILE`: decodes raw bytecode (or the program of a conformance `.data` file) and prints
//! the llvm-objdump-syntax listing.

use anyhow::Context;
use bpfc_compiler::conformance::parse_file;
use bpfc_runtime::isa::{decode, disassemble};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc disasm`.
#[derive(clap::Args)]
pub struct Args {
    /// Raw little-endian bytecode, or a `.data` conformance file.
    file: PathBuf,
}

/// Prints the listing.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = if args.file.extension().is_some_and(|e| e == "data") {
        parse_file(&args.file)?.code
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let code = decode(&bytes).with_context(|| format!("decoding {}", args.file.display()))?;
    print!("{}", disassemble(&code));
    Ok(ExitCode::SUCCESS)
}
