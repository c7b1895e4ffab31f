//! The `bpfc` command line: argument parsing and printing only; all logic lives in the libraries.
//!
//! Each subcommand is one module in `cmd/` with an `Args` (clap derive) and a `run(Args)`; adding a
//! subcommand is a `pub mod` line in `cmd/mod.rs` plus one line in the `commands!` list below.
#![forbid(unsafe_code)]

mod cmd;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Declares the subcommand enum and its dispatch from one list of `Variant(module)` entries.
macro_rules! commands {
    ($($(#[$doc:meta])* $variant:ident($module:ident),)*) => {
        #[derive(Subcommand)]
        enum Command {
            $($(#[$doc])* $variant(cmd::$module::Args),)*
        }

        impl Command {
            fn run(self) -> anyhow::Result<ExitCode> {
                match self {
                    $(Command::$variant(args) => cmd::$module::run(args),)*
                }
            }
        }
    };
}

commands! {
    /// Run live (like `run --attach`) and write the events as a replay file.
    Record(record),
    /// Run an object's programs on every engine over replayed events and report any difference.
    Test(test),
    /// Run the programs of an object on replayed events (all engines share maps and helpers).
    Run(run),
    /// Compile BPF programs to a native object (or shared library, CLIF, assembly).
    Build(build),
    /// Run a bpf_conformance test folder (`*.data`) on an engine.
    Conformance(conformance),
    /// Disassemble raw bytecode (or the program of a conformance `.data` file) in llvm-objdump syntax.
    Disasm(disasm),
    /// Assemble the conformance assembly dialect into raw bytecode.
    Asm(asm),
    /// Summarise a clang BPF object: programs, maps, globals, license, BTF, CO-RE.
    Info(info),
    /// Verify the programs of an object as the kernel would; print the verdict (and log with --log).
    Verify(verify),
}

/// bpfc: an ahead-of-time eBPF compiler.
#[derive(Parser)]
#[command(name = "bpfc", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

fn main() -> ExitCode {
    match Cli::parse().command.run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bpfc: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
