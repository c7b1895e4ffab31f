//! `bpfc verify FILE [--prog NAME] [--log 1|2]`: run the verifier on every program of a clang object (or
//! raw bytecode) and print the verdict; at `--log 2` the state after every instruction, as the kernel's
//! verifier log. Exit status: 0 all accepted, 1 some program rejected, 2 bad input.

use bpfc_compiler::pipeline::verify_program;
use bpfc_runtime::events::formats::TpFormats;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `bpfc verify`.
#[derive(clap::Args)]
pub struct Args {
    /// A clang BPF object, raw bytecode or conformance file.
    file: PathBuf,
    /// Only this program.
    #[arg(long)]
    prog: Option<String>,
    /// Log level: 1 processed instructions, 2 also the state after each.
    #[arg(long, default_value_t = 0)]
    log: u32,
    /// Folders with tracepoint `format` files (`CAT/NAME/format`), searched before tracefs.
    #[arg(long)]
    tp_formats: Vec<PathBuf>,
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn out(s: &str) {
    let _ = std::io::stdout().write_all(s.as_bytes());
}

/// Runs `bpfc verify`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input = match bpfc_compiler::input::load(&args.file) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("bpfc: error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let formats = TpFormats::dirs(args.tp_formats.clone(), true);
    let (mut found, mut rejected) = (false, false);
    for (i, p) in input.programs.iter().enumerate() {
        if args.prog.as_ref().is_some_and(|n| *n != p.name) {
            continue;
        }
        found = true;
        match verify_program(&input, i, &formats, args.log) {
            Err(e) => {
                eprintln!("bpfc: error: {e}");
                return Ok(ExitCode::from(2));
            }
            Ok(Ok(f)) => {
                out(&format!(
                    "{}{}: accepted ({} instructions processed, {} states)\n",
                    f.log, p.name, f.processed, f.states
                ));
            }
            Ok(Err(r)) => {
                out(&format!("{}{r}\n", r.log));
                rejected = true;
            }
        }
    }
    if !found {
        eprintln!("bpfc: error: no program {:?} in {}", args.prog.unwrap_or_default(), args.file.display());
        return Ok(ExitCode::from(2));
    }
    Ok(if rejected { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
