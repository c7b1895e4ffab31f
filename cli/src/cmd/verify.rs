//! `bpfc verify FILE [--prog NAME] [--log 1|2]`: run the verifier on every program of a clang object (or
//! raw bytecode) and print the verdict; at `--log 2` the state after every instruction, as the kernel's
//! verifier log. Exit status: 0 all accepted, 1 some program rejected, 2 bad input.

use bpfc_compiler::verify::{MapDef, VerifyInput, ctx_layout, license_is_gpl, verify};
use std::collections::BTreeMap;
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
    let maps: Vec<MapDef> = input.maps.iter().map(MapDef::from).collect();
    let gpl = license_is_gpl(&input.license);
    let (mut found, mut rejected) = (false, false);
    for p in &input.programs {
        if args.prog.as_ref().is_some_and(|n| *n != p.name) {
            continue;
        }
        found = true;
        let lines: BTreeMap<usize, String> = input
            .object
            .as_ref()
            .and_then(|o| o.programs.iter().find(|q| q.name == p.name))
            .map(|q| q.line_info.iter().map(|l| (l.pc, format!("{}:{}: {}", l.file, l.line, l.text.trim()))).collect())
            .unwrap_or_default();
        let ctx = ctx_layout(p.prog_type, 0);
        let vi = VerifyInput {
            name: &p.name,
            code: &p.code,
            prog_type: p.prog_type,
            ctx: &ctx,
            maps: &maps,
            map_fds: &[],
            lines: Some(&lines),
            gpl,
            log_level: args.log,
        };
        match verify(&vi) {
            Ok(f) => {
                out(&format!(
                    "{}{}: accepted ({} instructions processed, {} states)\n",
                    f.log, p.name, f.processed, f.states
                ));
            }
            Err(r) => {
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
