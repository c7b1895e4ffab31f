//! The bpf_conformance data format and runner: [`parse`] reads `.data` files into [`Case`]s,
//! [`run_case`] runs one on an [`Engine`] and judges it. Engines are listed in [`ENGINES`]; the CLI's
//! `--engine` flag and the testsuite both go through [`engine`], so a new engine is one match arm.

mod cross;
mod native;
mod parse;
mod run;

pub use cross::{CrossEngine, qemu_for};
pub use native::{AotEngine, JitEngine, scratch_path};
pub use parse::{Case, ConformanceError, Expected, data_files, parse, parse_file};
pub use run::{CaseResult, ENGINES, Engine, InterpEngine, Verdict, describe_trap, engine, run_case};
