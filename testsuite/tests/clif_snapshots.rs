//! `--emit clif` snapshots: the Cranelift IR bpfc generates for a handful of conformance programs is
//! stored in `testsuite/snapshots/NAME.clif` and compared exactly, so any change to the lowering is seen
//! in review. `BPFC_TEST_BLESS=1 cargo test -p bpfc-testsuite --test clif_snapshots` rewrites them.

use bpfc_compiler::conformance::parse_file;
use bpfc_compiler::emit::{CodegenOptions, ProgramSource, clif_text};
use bpfc_compiler::lower::LowerOptions;
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::isa::decode;
use bpfc_testsuite::data::conformance_dir;
use libtest_mimic::{Arguments, Trial};
use std::path::PathBuf;

/// (case, checked mode)
const CASES: &[(&str, bool)] = &[
    ("add", false),
    ("lddw", false),
    ("div64-by-zero-reg", false),
    ("sdiv64-intmin-by-negone-reg", false),
    ("jeq32-reg", false),
    ("lock_cmpxchg", false),
    ("call_local", false),
    ("call_unwind_fail", false),
    ("prime", false),
    ("stxdw", true),
];

fn snapshot(case: &'static str, checked: bool) -> Result<(), String> {
    let dir = conformance_dir()?;
    let parsed = parse_file(&dir.join("tests").join(format!("{case}.data"))).map_err(|e| e.to_string())?;
    let code = decode(&parsed.code).map_err(|e| e.to_string())?;
    let name = case.replace('-', "_");
    let prog = ProgramSource { name: &name, section: "", prog_type: ProgType::Unspec, code: &code };
    let opts = CodegenOptions { lower: LowerOptions { checked, maps: vec![] }, ..Default::default() };
    let text = clif_text(&[prog], &opts).map_err(|e| e.to_string())?;
    let suffix = if checked { ".checked" } else { "" };
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("snapshots").join(format!("{case}{suffix}.clif"));
    if std::env::var_os("BPFC_TEST_BLESS").is_some() {
        return std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()));
    }
    let want = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e} (run with BPFC_TEST_BLESS=1 to create it)", path.display()))?;
    if want != text {
        return Err(format!(
            "{} differs from the generated CLIF (BPFC_TEST_BLESS=1 to accept):\n--- stored\n{want}\n--- generated\n{text}",
            path.display()
        ));
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trials = CASES
        .iter()
        .map(|&(case, checked)| {
            let name = if checked { format!("clif::{case}::checked") } else { format!("clif::{case}") };
            Trial::test(name, move || snapshot(case, checked).map_err(Into::into))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
