//! The kernel as an oracle: run raw BPF code in this machine's kernel under the same contract as the
//! interpreter (r1 = a writable copy of the memory, r2 = its length, full 64-bit r0 as the result), and
//! run the same code in our interpreter, so tests can compare r0 and the final memory bit for bit.
//!
//! Method (why not the obvious ones):
//! - Program type `BPF_PROG_TYPE_SYSCALL`, loaded sleepable (`BPF_F_SLEEPABLE`, the only way it loads),
//!   run once with `BPF_PROG_TEST_RUN`. Its context is not used for the memory: the verifier forbids
//!   pointer arithmetic on a ctx pointer, `ST` (immediate stores) into it, atomics on it and unaligned
//!   ctx accesses, none of which the conformance contract forbids on r1. Instead the memory is the single
//!   value of a one-entry array map: a prolog `lddw r1, map_value(mem, 0); mov r2, len` makes r1 a map
//!   value pointer, which admits all of those (bounds-checked against exactly `len` bytes, as the
//!   interpreter's region is). The bytes go in with a map update and come back with a lookup. Without
//!   memory, r1 = r2 = 0, as in the interpreter.
//! - `test_run` reports only the low 32 bits of r0, so every `exit` of the entry function is rewritten
//!   into a jump to an epilogue `lddw r1, map_value(result, 0); *(u64 *)(r1 + 0) = r0; exit` that
//!   stores the full r0 in a second map. The epilogue sits right after the entry function (jumps may not
//!   leave a function); instructions are inserted by remapping every absolute target (`Insn` targets
//!   are slots) and re-encoding with `isa::encode`. Subprogram exits stay exits.
//! - The test checks the kernel's 32-bit `retval` against the stored r0 as well.

use bpfc_runtime::exec::{Machine, Outcome, run_interp};
use bpfc_runtime::helpers::conformance::conformance_helpers;
use bpfc_runtime::isa::{self, AluOp, CallTarget, Cfg, Code, Imm64, Insn, Located, Operand, Pc, Reg, Size, Width};
use bpfc_runtime::sys::bpf::{self, Errno, LoadError, MapCreate, MapFd, ProgLoad, TestRun};
use std::os::fd::{AsFd, AsRawFd};

/// What the kernel computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelRun {
    /// The full 64-bit r0, from the epilogue's store.
    pub r0: u64,
    /// `BPF_PROG_TEST_RUN`'s retval (the low 32 bits of r0).
    pub retval: u32,
    /// The memory after the run.
    pub mem: Vec<u8>,
}

/// Why the kernel did not run the code.
#[derive(Debug)]
pub enum KernelError {
    /// The verifier (or the loader) refused the program: a legitimate outcome, reported by the tests.
    Rejected {
        /// What bpf() returned.
        errno: Option<Errno>,
        /// The verifier's last log line.
        reason: String,
        /// The whole verifier log.
        log: String,
    },
    /// The harness itself failed (map creation, test run, rewriting): a test failure.
    Harness(String),
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KernelError::Rejected { errno: Some(errno), reason, .. } => write!(f, "{reason} [{}]", errno.name()),
            KernelError::Rejected { errno: None, reason, .. } => f.write_str(reason),
            KernelError::Harness(why) => write!(f, "kernel harness: {why}"),
        }
    }
}

impl std::error::Error for KernelError {}

/// Checks that bpf() works here (see [`bpf::kernel_bpf_available`]).
pub fn kernel_available() -> Result<(), String> {
    bpf::kernel_bpf_available()
}

fn harness(e: impl std::fmt::Display) -> KernelError {
    KernelError::Harness(e.to_string())
}

fn one_value_array(name: &str, value_size: usize) -> Result<MapFd, KernelError> {
    let value_size = u32::try_from(value_size).map_err(harness)?;
    bpf::map_create(&MapCreate {
        map_type: bpf::BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size,
        max_entries: 1,
        name,
        ..MapCreate::default()
    })
    .map_err(harness)
}

/// Runs `code` in the kernel with `mem` as r1/r2 (see the module docs for the method).
pub fn run_in_kernel(code: &Code, mem: &[u8]) -> Result<KernelRun, KernelError> {
    let key = 0u32.to_le_bytes();
    let result = one_value_array("bpfc_r0", 8)?;
    let mem_map = if mem.is_empty() {
        None
    } else {
        let m = one_value_array("bpfc_mem", mem.len())?;
        bpf::map_update(&m, &key, mem, bpf::BPF_ANY).map_err(harness)?;
        Some(m)
    };
    let len = i32::try_from(mem.len()).map_err(harness)?;
    let prolog = match &mem_map {
        Some(m) => vec![
            Insn::LdImm64 { dst: Reg::R1, imm: Imm64::MapValue { fd: m.fd().as_raw_fd(), off: 0 } },
            mov64(Reg::R2, len),
        ],
        None => vec![mov64(Reg::R1, 0), mov64(Reg::R2, 0)],
    };
    let epilog = [
        Insn::LdImm64 { dst: Reg::R1, imm: Imm64::MapValue { fd: result.fd().as_raw_fd(), off: 0 } },
        Insn::Store { size: Size::DW, base: Reg::R1, off: 0, src: Operand::Reg(Reg::R0) },
        Insn::Exit,
    ];
    let bytes = wrap_entry(code, &prolog, &epilog).map_err(KernelError::Harness)?;
    // BPFC_VERIFIER_STATS=1 prints the verifier's statistics line for every load (a debugging aid).
    let stats = std::env::var_os("BPFC_VERIFIER_STATS").is_some();
    let prog = bpf::prog_load_with_log(&ProgLoad {
        prog_type: bpf::BPF_PROG_TYPE_SYSCALL,
        insns: &bytes,
        license: "GPL",
        flags: bpf::BPF_F_SLEEPABLE,
        prog_name: "bpfc_oracle",
        log_level: if stats { bpf::LOG_LEVEL_STATS } else { 0 },
        ..ProgLoad::default()
    })
    .map(|loaded| {
        if stats {
            eprintln!("verifier: {} slots: {}", bytes.len() / 8, loaded.log.trim().replace('\n', "; "));
        }
        loaded.fd
    })
    .map_err(|e| match e {
        LoadError::Rejected { .. } => {
            KernelError::Rejected { errno: e.errno(), reason: e.reason(), log: e.log().to_string() }
        }
        LoadError::Invalid { .. } => harness(e),
    })?;
    let run = bpf::prog_test_run(prog.as_fd(), &TestRun::default()).map_err(harness)?;
    let r0 = bpf::map_lookup(&result, &key, 0).map_err(harness)?;
    let r0 = u64::from_le_bytes(r0.try_into().map_err(|_| harness("result value is not 8 bytes"))?);
    let mem = match &mem_map {
        Some(m) => bpf::map_lookup(m, &key, 0).map_err(harness)?,
        None => Vec::new(),
    };
    Ok(KernelRun { r0, retval: run.retval, mem })
}

fn mov64(dst: Reg, imm: i32) -> Insn {
    Insn::Alu { op: AluOp::Mov, width: Width::W64, dst, src: Operand::Imm(imm) }
}

fn slots(insns: &[Insn]) -> usize {
    insns.iter().map(Insn::slots).sum()
}

/// Puts `prolog` before `code` and `epilog` right after its entry function, and turns every `exit` of
/// the entry function into a jump to the epilogue. All jump, call and function-address targets are
/// remapped; a relative offset that no longer fits its field is an error.
pub fn wrap_entry(code: &Code, prolog: &[Insn], epilog: &[Insn]) -> Result<Vec<u8>, String> {
    let cfg = Cfg::new(code).map_err(|e| e.to_string())?;
    let entry = *cfg.functions().first().ok_or("empty program")?;
    let (p, e) = (slots(prolog), slots(epilog));
    let remap = |pc: Pc| if pc < entry.end { pc + p } else { pc + p + e };
    let epilog_pc = entry.end + p;
    let mut out: Vec<Located> = Vec::with_capacity(code.len() + prolog.len() + epilog.len());
    let mut pc = 0;
    let mut push = |out: &mut Vec<Located>, insn: Insn| {
        out.push(Located { pc, insn });
        pc += insn.slots();
    };
    for &insn in prolog {
        push(&mut out, insn);
    }
    let mut epilog_done = false;
    for l in code.insns() {
        if l.pc >= entry.end && !epilog_done {
            epilog.iter().for_each(|&i| push(&mut out, i));
            epilog_done = true;
        }
        let insn = match l.insn {
            Insn::Exit if l.pc < entry.end => Insn::Ja { target: epilog_pc, long: false },
            Insn::Ja { target, long } => Insn::Ja { target: remap(target), long },
            Insn::Jcond { cond, width, lhs, rhs, target } => {
                Insn::Jcond { cond, width, lhs, rhs, target: remap(target) }
            }
            Insn::Call(CallTarget::Local(t)) => Insn::Call(CallTarget::Local(remap(t))),
            Insn::LdImm64 { dst, imm: Imm64::Func(t) } => Insn::LdImm64 { dst, imm: Imm64::Func(remap(t)) },
            other => other,
        };
        push(&mut out, insn);
    }
    if !epilog_done {
        epilog.iter().for_each(|&i| push(&mut out, i));
    }
    for l in &out {
        let rel = |t: Pc| t as i64 - l.pc as i64 - 1;
        let fits = match l.insn {
            Insn::Ja { target, long: false } | Insn::Jcond { target, .. } => i16::try_from(rel(target)).is_ok(),
            Insn::Ja { target, long: true } | Insn::Call(CallTarget::Local(target)) => {
                i32::try_from(rel(target)).is_ok()
            }
            _ => true,
        };
        if !fits {
            return Err(format!("insn #{}: jump offset out of range after rewriting", l.pc));
        }
    }
    Ok(isa::encode(&out))
}

/// What the interpreter computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterpRun {
    /// How the run ended.
    pub outcome: Outcome,
    /// The memory after the run.
    pub mem: Vec<u8>,
}

/// Runs `code` on the reference interpreter with the conformance helpers and a copy of `mem`.
pub fn run_in_interp(code: &Code, mem: &[u8], budget: u64) -> InterpRun {
    let helpers = conformance_helpers();
    let machine = Machine { budget, ..Machine::new(&helpers) };
    let mut mem = mem.to_vec();
    let outcome = run_interp(&machine, code, &mut mem);
    InterpRun { outcome, mem }
}

/// The seedable PRNG of the random tests (one definition, in [`crate::random`]).
pub use crate::random::Rng;

/// The seed of a random test: `BPFC_SEED` (decimal or 0x-hex) if set, else `default`.
pub fn seed_from_env(default: u64) -> Result<u64, String> {
    match std::env::var("BPFC_SEED") {
        Ok(s) => {
            let s = s.trim();
            let parsed = match s.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16),
                None => s.parse::<u64>(),
            };
            parsed.map_err(|e| format!("BPFC_SEED=`{s}` is not a number: {e}"))
        }
        Err(_) => Ok(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> Code {
        isa::decode(&isa::assemble(text).unwrap()).unwrap()
    }

    #[test]
    fn wrap_remaps_targets_and_rewrites_entry_exits_only() {
        let c = code("jeq %r1, 0, +1\nexit\ncall local f\nexit\nf:\nmov %r0, 1\nexit\n");
        let prolog = [mov64(Reg::R2, 0)];
        let epilog = [mov64(Reg::R3, 0), Insn::Exit];
        let out = isa::decode(&wrap_entry(&c, &prolog, &epilog).unwrap()).unwrap();
        let insns: Vec<Insn> = out.insns().iter().map(|l| l.insn).collect();
        assert_eq!(insns[0], mov64(Reg::R2, 0));
        // jeq at new slot 1 still skips one instruction: to new slot 3 (the call).
        assert!(matches!(insns[1], Insn::Jcond { target: 3, .. }), "{:?}", insns[1]);
        assert_eq!(insns[2], Insn::Ja { target: 5, long: false });
        // The local call now lands after the two-slot epilogue.
        assert_eq!(insns[3], Insn::Call(CallTarget::Local(7)));
        assert_eq!(insns[4], Insn::Ja { target: 5, long: false });
        assert_eq!(&insns[5..7], &epilog);
        assert_eq!(insns[8], Insn::Exit, "subprogram exits stay exits");
    }

    #[test]
    fn kernel_returns_full_r0_and_memory() {
        kernel_available().expect("kernel bpf() must be usable for the oracle");
        // Two exits in the entry function (both rewritten) and a store through r1.
        let c = code("lddw %r0, 0x1122334455667788\nstxdw [%r1+8], %r0\njeq %r2, 16, +1\nexit\nmov %r0, %r2\nexit\n");
        let mem = [0xaau8; 16];
        let k = run_in_kernel(&c, &mem).unwrap();
        assert_eq!(k.r0, 16);
        let mut expected = mem.to_vec();
        expected[8..].copy_from_slice(&0x1122334455667788u64.to_le_bytes());
        assert_eq!(k.mem, expected);
        let k = run_in_kernel(&c, &mem[..12]).unwrap_err();
        assert!(matches!(k, KernelError::Rejected { .. }), "a store past the 12 bytes must be rejected: {k}");
        let k = run_in_kernel(&code("lddw %r0, 0x1122334455667788\nexit\n"), &[]).unwrap();
        assert_eq!((k.r0, k.retval), (0x1122334455667788, 0x55667788));
    }

    #[test]
    fn rng_is_deterministic_and_bounded() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(10) < 10);
            b.below(10);
        }
    }
}
