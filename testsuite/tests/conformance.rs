//! bpf_conformance on every engine: one trial per (engine, case), named `ENGINE::CASE` (`interp::add`),
//! plus `negative::CASE` for the 45 programs that decoding must reject. Engines come from
//! `bpfc_compiler::conformance::ENGINES`, so a new engine adds its trials without touching this file.
//! Cross targets add `aot@TRIPLE::CASE` (and `aot-checked@TRIPLE::CASE`) trials: all cases are built into
//! one object per target, linked with the C harness by Debian's cross gcc and run under qemu-user; a
//! missing cross toolchain is a failing trial (scripts/setup.sh installs them), never a silent pass.
//! A missing data folder is a failing trial, never a silent pass.

use bpfc_compiler::conformance::{
    CrossEngine, ENGINES, Engine, Expected, Verdict, data_files, engine, parse_file, run_case, scratch_path,
};
use bpfc_runtime::isa::{decode, disassemble};
use bpfc_testsuite::data::conformance_dir;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::PathBuf;
use std::sync::Arc;

fn files(sub: &str) -> Result<Vec<PathBuf>, String> {
    let dir = conformance_dir()?.join(sub);
    data_files(&dir).map_err(|e| format!("{e:#}"))
}

fn listing(code: &[u8]) -> String {
    decode(code).map_or_else(|e| format!("(does not decode: {e})"), |c| disassemble(&c))
}

fn case_trial(engine_name: &'static str, path: PathBuf) -> Trial {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Trial::test(format!("{engine_name}::{stem}"), move || {
        let case = parse_file(&path).map_err(|e| e.to_string())?;
        let engine = engine(engine_name).ok_or_else(|| format!("unknown engine {engine_name}"))?;
        match run_case(&case, engine.as_ref()).verdict {
            Verdict::Pass => Ok(()),
            Verdict::Fail { expected, got } => {
                Err(Failed::from(format!("expected {expected}, got {got}\n{}", listing(&case.code))))
            }
            Verdict::Skip { reason } => Err(Failed::from(format!("unsupported: {reason}\n{}", listing(&case.code)))),
        }
    })
}

/// Cross-compiled targets checked under qemu-user.
const CROSS_TARGETS: &[&str] = &["aarch64-unknown-linux-gnu", "riscv64gc-unknown-linux-gnu", "s390x-unknown-linux-gnu"];

fn cross_trials(files: &[PathBuf], target: &'static str, checked: bool) -> Vec<Trial> {
    let label =
        format!("{}@{}", if checked { "aot-checked" } else { "aot" }, target.split('-').next().unwrap_or(target));
    let cases: Result<Vec<_>, String> = files.iter().map(|p| parse_file(p).map_err(|e| e.to_string())).collect();
    let engine = cases.and_then(|cases| {
        let scratch = scratch_path("cross", "d");
        let engine = CrossEngine::prepare(&cases, target, checked, &scratch);
        let _ = std::fs::remove_dir_all(&scratch);
        engine.map(|e| (Arc::new(e), cases))
    });
    match engine {
        Err(e) => vec![Trial::test(format!("{label}::build"), move || Err(e.into()))],
        Ok((engine, cases)) => cases
            .into_iter()
            .map(|case| {
                let engine = Arc::clone(&engine);
                Trial::test(format!("{label}::{}", case.name), move || {
                    match run_case(&case, engine.as_ref() as &dyn Engine).verdict {
                        Verdict::Pass => Ok(()),
                        Verdict::Fail { expected, got } => {
                            Err(Failed::from(format!("expected {expected}, got {got}\n{}", listing(&case.code))))
                        }
                        Verdict::Skip { reason } => Err(Failed::from(format!("unsupported: {reason}"))),
                    }
                })
            })
            .collect(),
    }
}

fn negative_trial(path: PathBuf) -> Trial {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Trial::test(format!("negative::{stem}"), move || {
        let case = parse_file(&path).map_err(|e| e.to_string())?;
        if case.expected != Expected::Error {
            return Err(format!("{} does not expect an error", path.display()).into());
        }
        match decode(&case.code) {
            Err(_) => Ok(()),
            Ok(code) => Err(format!("decoded although invalid:\n{}", disassemble(&code)).into()),
        }
    })
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = Vec::new();
    match files("tests") {
        Ok(files) => {
            for &name in ENGINES {
                trials.extend(files.iter().map(|p| case_trial(name, p.clone())));
            }
            for &target in CROSS_TARGETS {
                trials.extend(cross_trials(&files, target, false));
                trials.extend(cross_trials(&files, target, true));
            }
        }
        Err(e) => trials.push(Trial::test("conformance::data_folder", move || Err(e.into()))),
    }
    match files("negative") {
        Ok(files) => trials.extend(files.into_iter().map(negative_trial)),
        Err(e) => trials.push(Trial::test("negative::data_folder", move || Err(e.into()))),
    }
    libtest_mimic::run(&args, trials).exit();
}
