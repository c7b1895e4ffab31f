//! `bpfc disasm FILE`: for a BPF ELF object, every program after linking with its C source lines
//! interleaved (`--sections`: every executable section before linking, llvm-objdump's layout); for raw
//! bytecode or a conformance `.data` file, the llvm-objdump-syntax listing of the code.

use anyhow::Context;
use bpfc_compiler::conformance::parse_file;
use bpfc_compiler::elf::{LoadOptions, Object, TargetBtf, listing};
use bpfc_runtime::isa::{decode, disassemble};
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc disasm`.
#[derive(clap::Args)]
pub struct Args {
    /// A clang BPF object (`.o`), raw little-endian bytecode, or a `.data` conformance file.
    file: PathBuf,
    /// ELF only: list the sections as compiled (before linking and CO-RE), as `llvm-objdump -d` does.
    #[arg(long)]
    sections: bool,
    /// ELF only: only this program.
    #[arg(long)]
    program: Option<String>,
    /// ELF only: BTF to resolve CO-RE relocations against (default /sys/kernel/btf/vmlinux).
    #[arg(long)]
    btf: Option<PathBuf>,
}

/// Prints the listing.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = if args.file.extension().is_some_and(|e| e == "data") {
        parse_file(&args.file)?.code
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    if bytes.starts_with(b"\x7fELF") {
        let name = args.file.display().to_string();
        if args.sections {
            let _ = std::io::stdout().write_all(listing::sections(&bytes, &name)?.as_bytes());
            return Ok(ExitCode::SUCCESS);
        }
        let opts = LoadOptions { target_btf: args.btf.map_or(TargetBtf::Vmlinux, TargetBtf::File) };
        let obj = Object::parse(&bytes, &name, &opts)?;
        let listings: Vec<String> = obj
            .programs
            .iter()
            .filter(|p| args.program.as_ref().is_none_or(|n| *n == p.name))
            .map(|p| listing::program(&obj, p))
            .collect();
        if listings.is_empty() {
            anyhow::bail!("{}: no program matches", name);
        }
        let _ = std::io::stdout().write_all(listings.join("\n").as_bytes());
        return Ok(ExitCode::SUCCESS);
    }
    let code = decode(&bytes).with_context(|| format!("decoding {}", args.file.display()))?;
    print!("{}", disassemble(&code));
    Ok(ExitCode::SUCCESS)
}
