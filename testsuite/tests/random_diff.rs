//! Seeded random differential tests: the interpreter (the spec) against JIT-compiled code, in verified
//! style and in checked mode, on random programs and random full-width 64-bit inputs. Compared: the
//! outcome (r0 or trap with slot and detail) and the whole context afterwards (registers and memory image).
//! The seed is printed on failure; `BPFC_SEED=n` reruns with another base seed.

use bpfc_compiler::emit::jit::JitProgram;
use bpfc_compiler::emit::{CodegenOptions, ProgramSource};
use bpfc_compiler::lower::LowerOptions;
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::exec::{Machine, Outcome, run_interp};
use bpfc_runtime::helpers::conformance::conformance_helpers;
use bpfc_runtime::isa::{Code, decode, disassemble};
use bpfc_testsuite::random::{Rng, Shape, random_ctx, random_program};

const DEFAULT_SEED: u64 = 0x5eed_b9fc;

fn base_seed() -> u64 {
    std::env::var("BPFC_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SEED)
}

fn jit(code: &Code, checked: bool) -> JitProgram {
    let opts = CodegenOptions { lower: LowerOptions { checked, maps: vec![] }, verify_ir: true, ..Default::default() };
    let src = ProgramSource { name: "main", section: "", prog_type: ProgType::Unspec, code };
    JitProgram::compile(&[src], &opts, false).unwrap_or_else(|e| panic!("compile: {e}\n{}", disassemble(code)))
}

/// Runs `programs` random programs of `shape` with `inputs` contexts each; returns BPF instructions
/// executed by the interpreter-equivalent count (body length × runs).
fn differential(name: &str, seed: u64, programs: usize, inputs: usize, shape: Shape) -> usize {
    let helpers = conformance_helpers();
    let machine = Machine::new(&helpers);
    let mut executed = 0;
    for p in 0..programs {
        let prog_seed = seed.wrapping_add(p as u64);
        let mut rng = Rng::new(prog_seed);
        let bytes = random_program(&mut rng, shape);
        let code =
            decode(&bytes).unwrap_or_else(|e| panic!("{name}: generator produced bad code ({e}), seed {prog_seed}"));
        let verified = jit(&code, false);
        let checked = jit(&code, true);
        for _ in 0..inputs {
            let input = random_ctx(&mut rng);
            let mut want_ctx = input.clone();
            let want = run_interp(&machine, &code, &mut want_ctx);
            for (label, prog) in [("jit", &verified), ("jit-checked", &checked)] {
                let mut got_ctx = input.clone();
                let got = prog.run("main", &machine, &mut got_ctx).expect("entry");
                if got != want || got_ctx != want_ctx {
                    panic!(
                        "{name}: interp and {label} disagree (program seed {prog_seed}, BPFC_SEED base {seed})\n\
                         input:  {input:02x?}\ninterp: {want:?}\n        {want_ctx:02x?}\n{label}: {got:?}\n        \
                         {got_ctx:02x?}\nprogram:\n{}",
                        disassemble(&code)
                    );
                }
            }
            if matches!(want, Outcome::Exit(_)) {
                executed += shape.body;
            }
        }
    }
    executed
}

/// Straight-line code over every ALU, byte-order, load/store and atomic form: at least a million
/// instructions executed and compared.
#[test]
fn straight_line_code_matches_interpreter() {
    let shape = Shape { body: 64, jumps: false, loops: false, calls: false };
    let executed = differential("straight-line", base_seed(), 400, 40, shape);
    assert!(executed >= 1_000_000, "only {executed} instructions executed");
}

/// One instruction at a time, so each form is checked in isolation on many edge-case inputs.
#[test]
fn single_instructions_match_interpreter() {
    let shape = Shape { body: 1, jumps: false, loops: false, calls: false };
    differential("single", base_seed() ^ 0x1, 600, 40, shape);
}

/// Forward branches on full 64-bit operands (the JMP32-as-flag bug class), counted loops and calls.
#[test]
fn branches_loops_and_calls_match_interpreter() {
    let shape = Shape { body: 48, jumps: true, loops: true, calls: true };
    differential("control-flow", base_seed() ^ 0x2, 400, 24, shape);
}
