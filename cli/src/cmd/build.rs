//! `bpfc build IN -o OUT [--target TRIPLE] [--emit obj|clif|asm] [--shared] [--checked]`: compiles every
//! program of the input to a native relocatable object (or a shared library, or prints CLIF / assembly).

use anyhow::{Context, bail};
use bpfc_compiler::emit::object::{ObjectSource, build_object, link_shared};
use bpfc_compiler::emit::{CodegenOptions, ProgramSource, clif_text, format_asm};
use bpfc_compiler::input;
use bpfc_compiler::lower::LowerOptions;
use bpfc_compiler::pipeline::{Safety, gate};
use bpfc_runtime::events::formats::TpFormats;
use std::path::PathBuf;
use std::process::ExitCode;

/// What to produce.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Emit {
    /// A native relocatable object.
    Obj,
    /// Cranelift IR.
    Clif,
    /// Machine code listing.
    Asm,
}

/// Arguments of `bpfc build`.
#[derive(clap::Args)]
pub struct Args {
    /// BPF input: a clang `-target bpf` object, raw bytecode, or a conformance `.data` file.
    input: PathBuf,
    /// Output file (default: stdout for clif/asm, `<input>.native.o` for objects).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Target triple (default: this machine), e.g. aarch64-unknown-linux-gnu, riscv64gc-unknown-linux-gnu.
    #[arg(long)]
    target: Option<String>,
    /// What to emit.
    #[arg(long, value_enum, default_value = "obj")]
    emit: Emit,
    /// Link the object into a shared library that `bpfc run` can load.
    #[arg(long)]
    shared: bool,
    /// Bounds-check every memory access at run time instead of requiring the verifier's approval (for
    /// debugging programs it rejects).
    #[arg(long)]
    checked: bool,
    /// Folders with tracepoint `format` files (`CAT/NAME/format`), searched before tracefs.
    #[arg(long)]
    tp_formats: Vec<PathBuf>,
}

/// Builds the input.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input = input::load(&args.input)?;
    let formats = TpFormats::dirs(args.tp_formats.clone(), true);
    let safety = gate(&input, args.checked, &formats)?;
    if safety == Safety::Checked {
        eprintln!("bpfc: building with run-time bounds checks (--checked, or raw bytecode without a program type)");
    }
    let programs: Vec<ProgramSource<'_>> = input
        .programs
        .iter()
        .map(|p| ProgramSource { name: &p.name, section: &p.section, prog_type: p.prog_type, code: &p.code })
        .collect();
    let opts = CodegenOptions {
        lower: LowerOptions { checked: safety == Safety::Checked, maps: input.maps.clone() },
        target: args.target.clone(),
        verify_ir: cfg!(debug_assertions),
        pic: args.shared,
    };
    let source = ObjectSource { programs, maps: input.maps.clone(), license: input.license.clone() };
    let text = match args.emit {
        Emit::Clif => Some(clif_text(&source.programs, &opts)?),
        Emit::Asm => Some(format_asm(&build_object(&source, &opts, true)?.asm)),
        Emit::Obj => None,
    };
    if let Some(text) = text {
        match &args.output {
            Some(out) => std::fs::write(out, text).with_context(|| format!("writing {}", out.display()))?,
            None => print!("{text}"),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let built = build_object(&source, &opts, false)?;
    let out = args.output.unwrap_or_else(|| args.input.with_extension(if args.shared { "so" } else { "native.o" }));
    if args.shared {
        let obj = out.with_extension("o.tmp");
        std::fs::write(&obj, &built.bytes).with_context(|| format!("writing {}", obj.display()))?;
        let linked = link_shared(&obj, &out, args.target.as_deref());
        let _ = std::fs::remove_file(&obj);
        linked?;
    } else {
        if out.exists() && out == args.input {
            bail!("refusing to overwrite the input {}", out.display());
        }
        std::fs::write(&out, &built.bytes).with_context(|| format!("writing {}", out.display()))?;
    }
    eprintln!("bpfc: wrote {} ({} programs, {} BPF instructions)", out.display(), source.programs.len(), built.insns);
    Ok(ExitCode::SUCCESS)
}
