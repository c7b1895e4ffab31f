//! Kernel oracle (b): a seeded random differential test of single instructions, kernel vs interpreter.
//!
//! Every ALU/ALU64 form (all ops incl. sdiv/smod, movsx, neg, le/be/bswap; register and immediate
//! operands), every JMP/JMP32 condition (register and immediate), LDX (all sizes, zero- and
//! sign-extending), ST, STX (all sizes) and every atomic form (add/or/and/xor with and without fetch,
//! xchg, cmpxchg; W and DW) is run with random full 64-bit register values and random immediates.
//!
//! Method: cases are batched, a few thousand per program, so one verifier pass and one test run cover
//! many cases. Memory (r1 at entry) holds one 200-byte block per case: the inputs r0–r9 (80 bytes),
//! the outputs r0–r9 plus a taken/not-taken flag (88 bytes) and a 32-byte scratch area. The program
//! saves r1 on the stack; each case reloads the block address, loads r0–r9 from it, runs the
//! instruction under test and stores r0–r9 back (through r9, spilled first). A conditional jump's two
//! successors each store the registers and a flag (0 fall-through, 1 taken). Memory instructions get a
//! base register pointing near the scratch area with an offset that keeps the access inside it (aligned
//! for atomics, which the kernel requires); the base pointer itself is zeroed before the store-back
//! unless the instruction overwrote it, because kernel and interpreter addresses differ. The same
//! bytecode runs in the interpreter (r1 = the memory) and, through `bpfc_testsuite::kernel`, in the kernel
//! (r1 = an array map value holding the same bytes); the whole memory must come back identical.
//!
//! Constraints from the Linux verifier, respected by the generator: constant shift amounts are kept in
//! range, division and modulo by a constant 0 are not generated (the verifier rejects both; register
//! divisors are often 0), r10 is never an operand.
//!
//! The seed is `BPFC_SEED` (decimal or 0x-hex) or a fixed default; it is printed at the start and with
//! every mismatch, together with the disassembled instruction, its inputs and both results.

use bpfc_runtime::exec::Outcome;
use bpfc_runtime::isa::{AluOp, AtomicOp, ByteOrder, Code, Cond, Insn, Located, Operand, Reg, Size, Width};
use bpfc_testsuite::kernel::{Rng, kernel_available, run_in_interp, run_in_kernel, seed_from_env};
use libtest_mimic::{Arguments, Completion, Failed, Trial};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Instant;

const DEFAULT_SEED: u64 = 0x6270_6663_5f6b_726e;
/// Cases per loaded program. Verification time grows faster than linearly with the number of jumps
/// (measured on Linux 6.18: 100 jump cases verify in ~6 ms, 400 in ~230 ms), so batches stay small.
const BATCH: usize = 100;
/// Bytes of one case's memory block.
const BLOCK: usize = 200;
const IN: usize = 0;
const OUT: usize = 80;
const FLAG: usize = OUT + 80;
const SCRATCH: usize = 168;
const SCRATCH_LEN: usize = 32;
/// Slot in the stack where the program keeps r1 (the memory address).
const SAVED_MEM: i16 = -8;
/// Slot where the epilogue spills r9.
const SAVED_R9: i16 = -16;

/// The instruction classes, each its own trial, with the number of cases it runs.
const CLASSES: &[(&str, usize)] = &[
    ("alu64", 24_000),
    ("alu32", 20_000),
    ("jmp64", 14_000),
    ("jmp32", 14_000),
    ("ldx", 8_000),
    ("st", 6_000),
    ("stx", 6_000),
    ("atomic64", 6_000),
    ("atomic32", 6_000),
];

fn main() {
    let args = Arguments::from_args();
    let seed = match seed_from_env(DEFAULT_SEED) {
        Ok(s) => s,
        Err(why) => {
            let t = Trial::test("seed", move || Err(Failed::from(why)));
            libtest_mimic::run(&args, vec![t]).exit();
        }
    };
    let total: usize = CLASSES.iter().map(|c| c.1).sum();
    println!("kernel_random: seed {seed:#x} (set BPFC_SEED to reproduce or vary), {total} cases");
    let kernel = kernel_available();
    if let Err(why) = &kernel {
        eprintln!("\n*** SKIP kernel_random: the kernel's bpf() is not usable here: {why} ***\n");
    }
    let trials = CLASSES
        .iter()
        .enumerate()
        .map(|(i, &(class, count))| {
            let kernel = kernel.clone();
            Trial::ignorable_test(class, move || {
                if let Err(why) = kernel {
                    return Ok(Completion::ignored_with(format!("SKIP: kernel bpf() unusable: {why}")));
                }
                // Each class draws from its own stream, so running one class alone reproduces it.
                let mut rng = Rng::new(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let start = Instant::now();
                let forms = run_class(class, count, seed, &mut rng).map_err(Failed::from)?;
                println!(
                    "kernel_random {class}: {count} cases in {forms} instruction forms agree in {:.2?}",
                    start.elapsed()
                );
                Ok(Completion::Completed)
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}

/// One case: the instruction under test and, for memory instructions, the base register.
#[derive(Clone, Copy, Debug)]
struct Case {
    insn: Insn,
    /// Base register of a memory instruction and its offset from the scratch area's start.
    base: Option<(Reg, i32)>,
}

/// Runs `count` cases of `class`; returns the number of distinct instruction forms exercised.
fn run_class(class: &str, count: usize, seed: u64, rng: &mut Rng) -> Result<usize, String> {
    let mut done = 0;
    let mut batch = 0;
    let mut forms = BTreeSet::new();
    let mut effects = Effects::default();
    while done < count {
        let n = BATCH.min(count - done);
        let cases: Vec<Case> = (0..n).map(|_| gen_case(class, rng)).collect();
        let mut mem: Vec<u8> = (0..n * BLOCK).map(|_| rng.next_u64() as u8).collect();
        for i in 0..n {
            fill_inputs(&mut mem[i * BLOCK..(i + 1) * BLOCK], rng);
        }
        let code = build_program(&cases)?;
        let kernel = run_in_kernel(&code, &mem)
            .map_err(|e| format!("seed {seed:#x} class {class} batch {batch}: kernel did not run the batch: {e}"))?;
        let interp = run_in_interp(&code, &mem, 10_000_000);
        if interp.outcome != Outcome::Exit(0) || kernel.r0 != 0 {
            return Err(format!(
                "seed {seed:#x} class {class} batch {batch}: batch did not finish normally: kernel r0 {:#x}, \
                 interpreter {:?}",
                kernel.r0, interp.outcome
            ));
        }
        if kernel.mem != interp.mem {
            return Err(report(seed, class, batch, &cases, &mem, &kernel.mem, &interp.mem));
        }
        forms.extend(cases.iter().map(|c| form(&c.insn)));
        effects.count(&cases, &mem, &kernel.mem);
        done += n;
        batch += 1;
    }
    effects.check(class, count).map_err(|why| format!("seed {seed:#x} class {class}: {why}"))?;
    Ok(forms.len())
}

/// The instruction's form without its registers and constants, e.g. `Alu SDiv W32 imm`.
fn form(insn: &Insn) -> String {
    let operand = |o: &Operand| if matches!(o, Operand::Reg(_)) { "reg" } else { "imm" };
    match insn {
        Insn::Alu { op, width, src, .. } => format!("Alu {op:?} {width:?} {}", operand(src)),
        Insn::Neg { width, .. } => format!("Neg {width:?}"),
        Insn::MovSx { width, from, .. } => format!("MovSx {width:?} {from}"),
        Insn::Endian { order, bits, .. } => format!("Endian {order:?} {bits}"),
        Insn::Load { size, signed, .. } => format!("Load {size:?} signed={signed}"),
        Insn::Store { size, src, .. } => format!("Store {size:?} {}", operand(src)),
        Insn::Atomic { op, size, .. } => format!("Atomic {op:?} {size:?}"),
        Insn::Jcond { cond, width, rhs, .. } => format!("Jcond {cond:?} {width:?} {}", operand(rhs)),
        other => format!("{other:?}"),
    }
}

/// Evidence that the cases did something observable, so a harness that silently stopped running the
/// instruction (never taking jumps, never writing memory) cannot pass.
#[derive(Default)]
struct Effects {
    jumps: usize,
    taken: usize,
    stores: usize,
    scratch_changed: usize,
    others: usize,
    regs_changed: usize,
}

impl Effects {
    fn count(&mut self, cases: &[Case], input: &[u8], output: &[u8]) {
        for (i, case) in cases.iter().enumerate() {
            let (inb, outb) = (&input[i * BLOCK..(i + 1) * BLOCK], &output[i * BLOCK..(i + 1) * BLOCK]);
            match case.insn {
                Insn::Jcond { .. } => {
                    self.jumps += 1;
                    self.taken += usize::from(outb[FLAG] == 1);
                }
                Insn::Store { .. } | Insn::Atomic { .. } => {
                    self.stores += 1;
                    let s = SCRATCH..SCRATCH + SCRATCH_LEN;
                    self.scratch_changed += usize::from(inb[s.clone()] != outb[s]);
                }
                _ => {
                    self.others += 1;
                    self.regs_changed += usize::from(inb[IN..IN + 80] != outb[OUT..OUT + 80]);
                }
            }
        }
    }

    fn check(&self, class: &str, count: usize) -> Result<(), String> {
        let share = |part: usize, whole: usize| if whole == 0 { 1.0 } else { part as f64 / whole as f64 };
        if self.jumps + self.stores + self.others != count {
            return Err(format!("counted {} cases", self.jumps + self.stores + self.others));
        }
        let taken = share(self.taken, self.jumps);
        if self.jumps > 0 && !(0.1..=0.9).contains(&taken) {
            return Err(format!(
                "{class}: jumps taken in {:.0}% of cases, expected both outcomes often",
                taken * 100.0
            ));
        }
        // Atomics with and/or and cmpxchg that fails may leave memory unchanged; most cases change it.
        if share(self.scratch_changed, self.stores) < 0.5 {
            return Err(format!("{class}: only {} of {} stores changed memory", self.scratch_changed, self.stores));
        }
        if share(self.regs_changed, self.others) < 0.5 {
            return Err(format!("{class}: only {} of {} cases changed a register", self.regs_changed, self.others));
        }
        Ok(())
    }
}

/// Register values worth hitting often: zero, signs, the 32-bit boundaries, shift widths.
const SPECIAL: &[u64] = &[
    0,
    1,
    2,
    u64::MAX,
    u64::MAX - 1,
    i64::MIN as u64,
    i64::MAX as u64,
    0x8000_0000,
    0x7fff_ffff,
    0xffff_ffff,
    0x1_0000_0000,
    0xffff_ffff_8000_0000,
    0xffff_ffff_0000_0000,
    31,
    32,
    63,
    64,
    0x80,
    0xff,
    0x8000,
    0xffff,
];

fn value(rng: &mut Rng) -> u64 {
    match rng.below(8) {
        0..=3 => rng.next_u64(),
        4 | 5 => rng.pick(SPECIAL),
        6 => rng.below(130),
        _ => (rng.below(130) as i64).wrapping_neg() as u64,
    }
}

fn imm(rng: &mut Rng) -> i32 {
    match rng.below(6) {
        0 | 1 => rng.next_u64() as i32,
        2 => rng.pick(&[0, 1, -1, 2, i32::MIN, i32::MAX, 0x80, -0x80, 0xffff, 0x8000]),
        3 => rng.below(70) as i32,
        4 => -(rng.below(70) as i32),
        _ => (rng.next_u64() as i32) >> rng.below(31),
    }
}

fn fill_inputs(block: &mut [u8], rng: &mut Rng) {
    for r in 0..10 {
        let v = value(rng);
        block[IN + 8 * r..IN + 8 * r + 8].copy_from_slice(&v.to_le_bytes());
    }
}

fn reg(rng: &mut Rng) -> Reg {
    Reg::new(rng.below(10) as u8).expect("r0..r9")
}

fn reg_except(rng: &mut Rng, not: &[Reg]) -> Reg {
    loop {
        let r = reg(rng);
        if !not.contains(&r) {
            return r;
        }
    }
}

const ALU_OPS: &[AluOp] = &[
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::Arsh,
];

const CONDS: &[Cond] = &[
    Cond::Eq,
    Cond::Gt,
    Cond::Ge,
    Cond::Set,
    Cond::Ne,
    Cond::SGt,
    Cond::SGe,
    Cond::Lt,
    Cond::Le,
    Cond::SLt,
    Cond::SLe,
];

const SIZES: &[Size] = &[Size::B, Size::H, Size::W, Size::DW];

fn gen_alu(width: Width, rng: &mut Rng) -> Insn {
    let dst = reg(rng);
    match rng.below(20) {
        0 => Insn::Neg { width, dst },
        1 => {
            let from = if width == Width::W64 { rng.pick(&[8, 16, 32]) } else { rng.pick(&[8, 16]) };
            Insn::MovSx { width, dst, src: reg(rng), from }
        }
        2 => {
            // le/be are ALU-class encodings, bswap is ALU64-class: the generator alternates by width.
            let order =
                if width == Width::W64 { ByteOrder::Swap } else { rng.pick(&[ByteOrder::ToLe, ByteOrder::ToBe]) };
            Insn::Endian { order, bits: rng.pick(&[16, 32, 64]), dst }
        }
        _ => {
            let op = rng.pick(ALU_OPS);
            let src = if rng.chance(1, 2) {
                Operand::Reg(reg(rng))
            } else {
                let bits = if width == Width::W64 { 64 } else { 32 };
                Operand::Imm(match op {
                    // The verifier rejects constant shifts >= the width and negative ones.
                    AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => rng.below(bits) as i32,
                    // ... and division or modulo by a constant zero.
                    AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => match imm(rng) {
                        0 => -1,
                        v => v,
                    },
                    _ => imm(rng),
                })
            };
            Insn::Alu { op, width, dst, src }
        }
    }
}

fn gen_case(class: &str, rng: &mut Rng) -> Case {
    let plain = |insn| Case { insn, base: None };
    match class {
        "alu64" => plain(gen_alu(Width::W64, rng)),
        "alu32" => plain(gen_alu(Width::W32, rng)),
        "jmp64" | "jmp32" => {
            let width = if class == "jmp64" { Width::W64 } else { Width::W32 };
            let rhs = if rng.chance(1, 2) { Operand::Reg(reg(rng)) } else { Operand::Imm(imm(rng)) };
            // The target is filled in by the program builder.
            plain(Insn::Jcond { cond: rng.pick(CONDS), width, lhs: reg(rng), rhs, target: 0 })
        }
        "ldx" => {
            let size = rng.pick(SIZES);
            let signed = size != Size::DW && rng.chance(1, 2);
            let (base, disp, off) = mem_operand(size, false, &[], rng);
            Case { insn: Insn::Load { size, signed, dst: reg(rng), base, off }, base: Some((base, disp)) }
        }
        "st" => {
            let size = rng.pick(SIZES);
            let (base, disp, off) = mem_operand(size, false, &[], rng);
            Case { insn: Insn::Store { size, base, off, src: Operand::Imm(imm(rng)) }, base: Some((base, disp)) }
        }
        "stx" => {
            let size = rng.pick(SIZES);
            let src = reg(rng);
            let (base, disp, off) = mem_operand(size, false, &[src], rng);
            Case { insn: Insn::Store { size, base, off, src: Operand::Reg(src) }, base: Some((base, disp)) }
        }
        _ => {
            let size = if class == "atomic64" { Size::DW } else { Size::W };
            let fetch = rng.chance(1, 2);
            let op = rng.pick(&[
                AtomicOp::Add { fetch },
                AtomicOp::Or { fetch },
                AtomicOp::And { fetch },
                AtomicOp::Xor { fetch },
                AtomicOp::Xchg,
                AtomicOp::CmpXchg,
            ]);
            let src = reg(rng);
            // The base must differ from src (which may receive the old value) and, for cmpxchg, from r0.
            let avoid = if op == AtomicOp::CmpXchg { vec![src, Reg::R0] } else { vec![src] };
            let (base, disp, off) = mem_operand(size, true, &avoid, rng);
            Case { insn: Insn::Atomic { op, size, base, off, src }, base: Some((base, disp)) }
        }
    }
}

/// Picks a base register, its displacement from the scratch start and an instruction offset so that
/// the access lies inside the scratch area (aligned to its size when `aligned`).
fn mem_operand(size: Size, aligned: bool, avoid: &[Reg], rng: &mut Rng) -> (Reg, i32, i16) {
    let base = reg_except(rng, avoid);
    let n = size.bytes();
    let slots = (SCRATCH_LEN - n) / if aligned { n } else { 1 } + 1;
    let at = rng.below(slots as u64) as i32 * if aligned { n as i32 } else { 1 };
    // Displacements are multiples of 8 (keeping atomics aligned) in [-128, 128]: offsets of both signs.
    let disp = (rng.below(33) as i32 - 16) * 8;
    (base, disp, (at - disp) as i16)
}

/// Builds the batched program (see the module docs). Slots are assigned as instructions are pushed;
/// jump targets are absolute slots.
fn build_program(cases: &[Case]) -> Result<Code, String> {
    let mut p = Builder::default();
    p.push(Insn::Store { size: Size::DW, base: Reg::R10, off: SAVED_MEM, src: Operand::Reg(Reg::R1) });
    for (i, case) in cases.iter().enumerate() {
        let block = i32::try_from(i * BLOCK).map_err(|_| "batch too large".to_string())?;
        p.block_address(Reg::R9, block);
        for r in 0..9u8 {
            p.push(ldx(Reg::new(r).expect("reg"), Reg::R9, (IN + 8 * r as usize) as i16));
        }
        if let Some((base, disp)) = case.base {
            let to_scratch = SCRATCH as i32 + disp;
            if base != Reg::R9 {
                p.push(Insn::Alu { op: AluOp::Mov, width: Width::W64, dst: base, src: Operand::Reg(Reg::R9) });
                p.push(add_imm(base, to_scratch));
                p.push(ldx(Reg::R9, Reg::R9, (IN + 72) as i16));
            } else {
                p.push(add_imm(Reg::R9, to_scratch));
            }
        } else {
            p.push(ldx(Reg::R9, Reg::R9, (IN + 72) as i16));
        }
        match case.insn {
            Insn::Jcond { cond, width, lhs, rhs, .. } => {
                let jump_at = p.pc;
                p.push(case.insn);
                p.store_back(block);
                p.push(Insn::Store { size: Size::DW, base: Reg::R9, off: FLAG as i16, src: Operand::Imm(0) });
                let ja_at = p.pc;
                p.push(Insn::Ja { target: 0, long: false });
                let taken = p.pc;
                p.store_back(block);
                p.push(Insn::Store { size: Size::DW, base: Reg::R9, off: FLAG as i16, src: Operand::Imm(1) });
                let end = p.pc;
                p.patch(jump_at, Insn::Jcond { cond, width, lhs, rhs, target: taken });
                p.patch(ja_at, Insn::Ja { target: end, long: false });
            }
            insn => {
                p.push(insn);
                if let Some((base, _)) = case.base {
                    let overwritten = matches!(insn, Insn::Load { dst, .. } if dst == base);
                    if !overwritten {
                        p.push(Insn::Alu { op: AluOp::Mov, width: Width::W64, dst: base, src: Operand::Imm(0) });
                    }
                }
                p.store_back(block);
            }
        }
    }
    p.push(Insn::Alu { op: AluOp::Mov, width: Width::W64, dst: Reg::R0, src: Operand::Imm(0) });
    p.push(Insn::Exit);
    Ok(Code::new(p.insns))
}

fn ldx(dst: Reg, base: Reg, off: i16) -> Insn {
    Insn::Load { size: Size::DW, signed: false, dst, base, off }
}

fn add_imm(dst: Reg, imm: i32) -> Insn {
    Insn::Alu { op: AluOp::Add, width: Width::W64, dst, src: Operand::Imm(imm) }
}

#[derive(Default)]
struct Builder {
    insns: Vec<Located>,
    pc: usize,
}

impl Builder {
    fn push(&mut self, insn: Insn) {
        self.insns.push(Located { pc: self.pc, insn });
        self.pc += insn.slots();
    }

    fn patch(&mut self, pc: usize, insn: Insn) {
        let l = self.insns.iter_mut().rev().find(|l| l.pc == pc).expect("patched slot exists");
        l.insn = insn;
    }

    /// `reg = saved memory address + block`. The slot is written back at once: the kernel verifier
    /// propagates a read up the chain of states to the one that last wrote the slot, so a slot written
    /// only at entry makes verification quadratic in the batch size.
    fn block_address(&mut self, reg: Reg, block: i32) {
        self.push(ldx(reg, Reg::R10, SAVED_MEM));
        self.push(Insn::Store { size: Size::DW, base: Reg::R10, off: SAVED_MEM, src: Operand::Reg(reg) });
        self.push(add_imm(reg, block));
    }

    /// Stores r0–r9 into the block's output area, using r9 as the pointer after spilling it.
    fn store_back(&mut self, block: i32) {
        self.push(Insn::Store { size: Size::DW, base: Reg::R10, off: SAVED_R9, src: Operand::Reg(Reg::R9) });
        self.block_address(Reg::R9, block);
        for r in 0..9u8 {
            let src = Operand::Reg(Reg::new(r).expect("reg"));
            self.push(Insn::Store { size: Size::DW, base: Reg::R9, off: (OUT + 8 * r as usize) as i16, src });
        }
        self.push(ldx(Reg::R0, Reg::R10, SAVED_R9));
        self.push(Insn::Store { size: Size::DW, base: Reg::R9, off: (OUT + 72) as i16, src: Operand::Reg(Reg::R0) });
    }
}

fn words(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()
}

fn regs(out: &mut String, label: &str, values: &[u64]) {
    let _ = write!(out, "    {label:<9}");
    for (r, v) in values.iter().enumerate() {
        let _ = write!(out, " r{r}={v:#x}");
    }
    out.push('\n');
}

/// Describes the first few cases whose blocks differ.
fn report(seed: u64, class: &str, batch: usize, cases: &[Case], input: &[u8], kernel: &[u8], interp: &[u8]) -> String {
    let mut out = format!(
        "kernel and interpreter disagree (seed {seed:#x}, class {class}, batch {batch}; reproduce with \
         BPFC_SEED={seed:#x} cargo test -p bpfc-testsuite --test kernel_random -- {class}):\n"
    );
    let mut shown = 0;
    for (i, case) in cases.iter().enumerate() {
        let range = i * BLOCK..(i + 1) * BLOCK;
        if kernel[range.clone()] == interp[range.clone()] {
            continue;
        }
        let (inb, kb, ib) = (&input[range.clone()], &kernel[range.clone()], &interp[range]);
        let text = Located { pc: 0, insn: case.insn };
        let _ = writeln!(out, "  case {i}: {text}");
        if let Some((base, disp)) = case.base {
            let _ = writeln!(out, "    base {base} = scratch{disp:+} (pointer, zeroed before the store-back)");
        }
        regs(&mut out, "inputs", &words(&inb[IN..IN + 80]));
        regs(&mut out, "kernel", &words(&kb[OUT..OUT + 80]));
        regs(&mut out, "interp", &words(&ib[OUT..OUT + 80]));
        if matches!(case.insn, Insn::Jcond { .. }) {
            let flag = |b: &[u8]| words(&b[FLAG..FLAG + 8])[0];
            let _ = writeln!(out, "    taken: kernel {} interp {}", flag(kb), flag(ib));
        }
        if case.base.is_some() {
            let s = SCRATCH..SCRATCH + SCRATCH_LEN;
            let _ = writeln!(out, "    scratch in     {:02x?}", &inb[s.clone()]);
            let _ = writeln!(out, "    scratch kernel {:02x?}", &kb[s.clone()]);
            let _ = writeln!(out, "    scratch interp {:02x?}", &ib[s]);
        }
        shown += 1;
        if shown == 5 {
            out.push_str("  (more cases differ)\n");
            break;
        }
    }
    out
}
