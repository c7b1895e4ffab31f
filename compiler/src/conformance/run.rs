//! Running conformance cases on an engine and judging the outcome.
//!
//! The contract (README "How a test is run"): r1 = a private writable copy of `-- mem` (0 when there is
//! none), r2 = its length, r10 = top of the stack, helper 5 = uBPF's unwind; the case passes when the
//! program exits normally with the full 64-bit r0 equal to `-- result`. A case expecting an error passes
//! when it is rejected before execution (decode, cfg or compile error) or traps. Upstream's quirk of also
//! passing an `-- error` case that runs and returns 0 is deliberately not adopted: such a program was
//! accepted, which is exactly what the case says must not happen.

use super::{Case, Expected};
use bpfc_runtime::abi::{TrapCode, TrapInfo};
use bpfc_runtime::exec::{Machine, Outcome, run_program};
use bpfc_runtime::helpers::{HelperTable, conformance::conformance_helpers};
use bpfc_runtime::interp::Program;
use bpfc_runtime::isa::{Code, decode};

/// Something that runs decoded conformance programs: the interpreter, the JIT, AOT objects.
pub trait Engine {
    /// The engine's name as used by `--engine` and in test names.
    fn name(&self) -> &str;
    /// Runs `code` with `mem` as its context. `Err` means the code was rejected before running (cfg or
    /// compile error); traps are `Ok(Outcome::Trap(..))`.
    fn run(&self, code: &Code, mem: &mut [u8]) -> Result<Outcome, String>;
}

/// The reference interpreter with the conformance helpers.
#[derive(Debug)]
pub struct InterpEngine {
    helpers: HelperTable,
}

impl InterpEngine {
    /// An interpreter bound to [`conformance_helpers`].
    pub fn new() -> InterpEngine {
        InterpEngine { helpers: conformance_helpers() }
    }
}

impl Default for InterpEngine {
    fn default() -> Self {
        InterpEngine::new()
    }
}

impl Engine for InterpEngine {
    fn name(&self) -> &str {
        "interp"
    }

    fn run(&self, code: &Code, mem: &mut [u8]) -> Result<Outcome, String> {
        let program = Program::new(code).map_err(|e| e.to_string())?;
        Ok(run_program(&Machine::new(&self.helpers), &program, mem))
    }
}

/// Names of the engines [`engine`] knows, in the order tests run them.
pub const ENGINES: &[&str] = &["interp", "jit", "jit-checked", "aot", "aot-checked"];

/// The engine called `name`.
pub fn engine(name: &str) -> Option<Box<dyn Engine>> {
    match name {
        "interp" => Some(Box::new(InterpEngine::new())),
        "jit" => Some(Box::new(super::JitEngine::new(false))),
        "jit-checked" => Some(Box::new(super::JitEngine::new(true))),
        "aot" => Some(Box::new(super::AotEngine::new(false))),
        "aot-checked" => Some(Box::new(super::AotEngine::new(true))),
        _ => None,
    }
}

/// The judgement on one case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// As expected.
    Pass,
    /// Not as expected.
    Fail {
        /// What the case expects.
        expected: String,
        /// What happened.
        got: String,
    },
    /// The engine does not support an instruction the case needs (it trapped `Unsupported`).
    Skip {
        /// What is unsupported.
        reason: String,
    },
}

/// The result of running one case on one engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseResult {
    /// Case name.
    pub name: String,
    /// Engine name.
    pub engine: String,
    /// The judgement.
    pub verdict: Verdict,
}

/// Human-readable trap description: `trap OutOfBounds at insn #3 (detail 0x10, access 0x108)`.
pub fn describe_trap(t: &TrapInfo) -> String {
    let code = TrapCode::from_u32(t.code).map_or_else(|| format!("code {}", t.code), |c| format!("{c:?}"));
    format!("trap {code} at insn #{} (detail {:#x}, access {:#x})", t.pc, t.detail, t.access)
}

fn describe(o: &Outcome) -> String {
    match o {
        Outcome::Exit(v) => format!("r0 = {v:#x}"),
        Outcome::Trap(t) => describe_trap(t),
        Outcome::TailCall { target } => format!("tail call to program {target}"),
    }
}

/// Runs `case` on `engine` and judges the outcome.
pub fn run_case(case: &Case, engine: &dyn Engine) -> CaseResult {
    let verdict = judge(case, engine);
    CaseResult { name: case.name.clone(), engine: engine.name().to_string(), verdict }
}

fn judge(case: &Case, engine: &dyn Engine) -> Verdict {
    let expected = match case.expected {
        Expected::Result(v) => format!("r0 = {v:#x}"),
        Expected::Error => "rejection or trap".to_string(),
    };
    let fail = |got: String| Verdict::Fail { expected: expected.clone(), got };
    let outcome =
        decode(&case.code).map_err(|e| e.to_string()).and_then(|code| engine.run(&code, &mut case.mem.clone()));
    match (&case.expected, outcome) {
        (Expected::Error, Err(_)) | (Expected::Error, Ok(Outcome::Trap(_))) => Verdict::Pass,
        (Expected::Error, Ok(o)) => fail(describe(&o)),
        (Expected::Result(_), Err(e)) => fail(format!("rejected: {e}")),
        (Expected::Result(v), Ok(Outcome::Exit(r0))) if r0 == *v => Verdict::Pass,
        (Expected::Result(_), Ok(Outcome::Trap(t))) if t.code == TrapCode::Unsupported as u32 => {
            Verdict::Skip { reason: describe_trap(&t) }
        }
        (Expected::Result(_), Ok(o)) => fail(describe(&o)),
    }
}
