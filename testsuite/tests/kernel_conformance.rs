//! Kernel oracle (a): every bpf_conformance case, run in this machine's kernel and in our interpreter,
//! must give the same full 64-bit r0 and the same final memory.
//!
//! Method (details in `bpfc_testsuite::kernel`): each case's bytecode (assembled from `-- asm`, or the
//! `-- raw` bytes) is loaded as a sleepable `BPF_PROG_TYPE_SYSCALL` program and run once with
//! `BPF_PROG_TEST_RUN`. A prolog makes r1 point to the `-- mem` bytes, which live in a one-entry array
//! map (so pointer arithmetic, immediate stores and atomics on r1 are as legal as the conformance
//! contract makes them), and r2 = their length; every `exit` of the entry function becomes a jump to
//! an epilogue that stores the full r0 into a second map, because test_run's retval has only 32 bits.
//! The memory is read back from the map afterwards. The interpreter runs the unmodified bytecode with
//! a copy of the same memory and the conformance helpers.
//!
//! Verdicts, one named trial per case:
//! - the kernel verifier rejects the program: the trial passes and prints `kernel rejected: <reason>`
//!   (the kernel's policy is stricter than the ISA, e.g. it refuses out-of-range constant shifts);
//! - the kernel accepts it: r0, test_run's 32-bit retval and the memory must all agree with the
//!   interpreter (and with the case's expected result), or the trial fails with both results and the
//!   disassembly.
//!
//! A summary (accepted / rejected, reasons grouped) is printed at the end. A missing data folder fails;
//! if the kernel's bpf() is unusable every trial is ignored and a loud SKIP line says why.

use bpfc_compiler::conformance::{Case, Expected, data_files, parse_file};
use bpfc_runtime::exec::Outcome;
use bpfc_runtime::isa::{self, Code};
use bpfc_testsuite::kernel::{KernelError, kernel_available, run_in_interp, run_in_kernel};
use bpfc_testsuite::shared::shared_dir;
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Accepted cases and rejection reasons, collected across trials for the summary.
#[derive(Default)]
struct Summary {
    /// Accepted by the kernel and equal on both engines.
    agree: Vec<String>,
    /// Accepted by the kernel but different (each one is also a failed trial).
    disagree: Vec<String>,
    rejected: BTreeMap<String, Vec<String>>,
}

const BUDGET: u64 = 1_000_000;

fn main() {
    let args = Arguments::from_args();
    let summary = Arc::new(Mutex::new(Summary::default()));
    let trials = match trials(&summary) {
        Ok(t) => t,
        Err(why) => vec![Trial::test("conformance_data", move || Err(Failed::from(why)))],
    };
    let total = trials.len();
    let conclusion = libtest_mimic::run(&args, trials);
    print_summary(&summary.lock().unwrap_or_else(|p| p.into_inner()), total);
    conclusion.exit();
}

fn trials(summary: &Arc<Mutex<Summary>>) -> Result<Vec<Trial>, String> {
    let dir = shared_dir("conformance/tests")?;
    let files = data_files(&dir).map_err(|e| e.to_string())?;
    let kernel = kernel_available();
    if let Err(why) = &kernel {
        eprintln!("\n*** SKIP kernel_conformance: the kernel's bpf() is not usable here: {why} ***\n");
    }
    Ok(files
        .into_iter()
        .map(|path| {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let kernel = kernel.clone();
            let summary = Arc::clone(summary);
            Trial::ignorable_test(name, move || {
                if let Err(why) = kernel {
                    return Ok(Completion::ignored_with(format!("SKIP: kernel bpf() unusable: {why}")));
                }
                let case = parse_file(&path).map_err(|e| e.to_string())?;
                check_case(&case, &summary).map(|()| Completion::Completed).map_err(Failed::from)
            })
        })
        .collect())
}

fn check_case(case: &Case, summary: &Mutex<Summary>) -> Result<(), String> {
    match compare(case, summary) {
        Ok(()) => Ok(()),
        Err(Problem::Harness(why)) => Err(why),
        Err(Problem::Disagree(why)) => {
            summary.lock().unwrap_or_else(|p| p.into_inner()).disagree.push(case.name.clone());
            Err(why)
        }
    }
}

enum Problem {
    /// The harness failed before anything was compared.
    Harness(String),
    /// The kernel ran the program and the engines disagree.
    Disagree(String),
}

fn compare(case: &Case, summary: &Mutex<Summary>) -> Result<(), Problem> {
    let code = isa::decode(&case.code).map_err(|e| Problem::Harness(format!("decode: {e}")))?;
    let interp = run_in_interp(&code, &case.mem, BUDGET);
    let kernel = match run_in_kernel(&code, &case.mem) {
        Ok(k) => k,
        Err(KernelError::Rejected { reason, errno, .. }) => {
            println!("{}: kernel rejected: {reason}", case.name);
            let key = match errno {
                Some(e) => format!("{} [{}]", generalise(&reason), e.name()),
                None => generalise(&reason),
            };
            summary.lock().unwrap_or_else(|p| p.into_inner()).rejected.entry(key).or_default().push(case.name.clone());
            return Ok(());
        }
        Err(e @ KernelError::Harness(_)) => return Err(Problem::Harness(e.to_string())),
    };
    let mismatch = |what: String| {
        Problem::Disagree(format!(
            "{what}\n  kernel: r0 = {:#x}, retval = {:#x}, mem = {:02x?}\n  interp: {:?}, mem = {:02x?}\n  input mem = {:02x?}\n{}",
            kernel.r0,
            kernel.retval,
            kernel.mem,
            interp.outcome,
            interp.mem,
            case.mem,
            listing(&code)
        ))
    };
    let r0 = match interp.outcome {
        Outcome::Exit(r0) => r0,
        other => return Err(mismatch(format!("the kernel ran the program but the interpreter ended with {other:?}"))),
    };
    if kernel.r0 != r0 {
        return Err(mismatch(format!("r0 differs: kernel {:#x}, interpreter {r0:#x}", kernel.r0)));
    }
    if u64::from(kernel.retval) != kernel.r0 & 0xffff_ffff {
        return Err(mismatch("test_run's retval is not the low half of the stored r0".to_string()));
    }
    if kernel.mem != interp.mem {
        return Err(mismatch("final memory differs".to_string()));
    }
    match case.expected {
        Expected::Result(v) if v != r0 => {
            return Err(mismatch(format!("kernel and interpreter agree on {r0:#x} but the case expects {v:#x}")));
        }
        Expected::Error => return Err(mismatch("the case expects an error but both engines ran it".to_string())),
        Expected::Result(_) => {}
    }
    summary.lock().unwrap_or_else(|p| p.into_inner()).agree.push(case.name.clone());
    Ok(())
}

/// Groups rejections that differ only in numbers (`invalid shift 48` → `invalid shift N`).
fn generalise(reason: &str) -> String {
    reason
        .split(' ')
        .map(|w| {
            let digits = w.strip_prefix('-').unwrap_or(w);
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) { "N" } else { w }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn listing(code: &Code) -> String {
    isa::disassemble(code).lines().map(|l| format!("    {l}\n")).collect()
}

fn print_summary(s: &Summary, total: usize) {
    let rejected: usize = s.rejected.values().map(Vec::len).sum();
    println!(
        "\nkernel oracle: {total} conformance cases; kernel accepted {} ({} agree with the interpreter, {} \
         disagree), rejected {rejected}",
        s.agree.len() + s.disagree.len(),
        s.agree.len(),
        s.disagree.len()
    );
    if !s.disagree.is_empty() {
        let mut names = s.disagree.clone();
        names.sort();
        println!("  DISAGREE: {}", names.join(", "));
    }
    let mut groups: Vec<_> = s.rejected.iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    for (reason, names) in groups {
        let mut names = names.clone();
        names.sort();
        println!("  rejected {:>3}: {reason}\n                 ({})", names.len(), names.join(", "));
    }
}
