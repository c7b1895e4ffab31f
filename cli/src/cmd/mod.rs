//! One module per subcommand: `Args` (clap derive) and `run(Args) -> anyhow::Result<ExitCode>`.

pub mod asm;
pub mod build;
pub mod conformance;
pub mod disasm;
pub mod info;
pub mod record;
pub mod run;
pub mod test;
pub mod verify;
