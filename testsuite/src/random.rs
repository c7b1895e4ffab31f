//! Seeded random BPF programs for differential testing (interpreter vs compiled code).
//!
//! Programs keep every engine on defined ground without a verifier: memory instructions only use r10
//! (never written) with in-frame offsets, jumps only go forward (or around counted loops whose counter
//! the body cannot touch), and local calls only go to functions that do not call further. Register values
//! are full 64-bit and biased towards edge cases (0, ±1, MIN, MAX, 32-bit boundaries), which is what
//! catches 32/64-bit confusions in compares, divisions and shifts.
//!
//! Program shape (the context is [`CTX_LEN`] bytes: r0–r9 then a [`SCRATCH`]-byte memory image):
//! prolog loads r0–r9 from ctx and copies the scratch image into the stack; the random body; epilog
//! stores r0–r9 and the stack image back into ctx and exits.

use bpfc_runtime::isa::*;

/// Bytes of stack the random memory instructions use, just below r10.
pub const SCRATCH: usize = 64;
/// Context size: ten registers and the scratch image.
pub const CTX_LEN: usize = 80 + SCRATCH;

/// splitmix64: tiny, seedable, good enough for test generation.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform value in `0..n` (`n > 0`), by multiply-high (no modulo bias).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `num / den`.
    pub fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    /// Picks an element.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// A 64-bit value biased towards edge cases.
    pub fn value(&mut self) -> u64 {
        const EDGES: [u64; 14] = [
            0,
            1,
            u64::MAX,
            i64::MIN as u64,
            i64::MAX as u64,
            0x8000_0000,
            0x7fff_ffff,
            0xffff_ffff,
            0x1_0000_0000,
            0xffff_ffff_8000_0000,
            63,
            64,
            32,
            0xff,
        ];
        match self.below(4) {
            0 => self.pick(&EDGES),
            1 => self.below(100),
            _ => self.next_u64(),
        }
    }

    /// A 32-bit immediate biased towards edge cases.
    pub fn imm(&mut self) -> i32 {
        match self.below(4) {
            0 => self.pick(&[0, 1, -1, i32::MIN, i32::MAX, 31, 32, 63, 64, -64]),
            1 => self.below(64) as i32,
            _ => self.next_u64() as i32,
        }
    }
}

/// What the body of a random program may contain.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Instructions in the main body.
    pub body: usize,
    /// Allow forward conditional/unconditional jumps.
    pub jumps: bool,
    /// Allow a counted loop around part of the body.
    pub loops: bool,
    /// Allow calls to a random leaf function.
    pub calls: bool,
}

const WORK_REGS: [u8; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("valid register")
}

/// One random straight-line instruction (ALU, byte order, memory or atomic), never writing r9 or r10.
pub fn random_simple(rng: &mut Rng) -> Insn {
    let dst = reg(rng.pick(&WORK_REGS));
    // r9 (ctx) and r10 hold addresses, which differ between runs: never use them as values.
    let src_reg = reg(rng.pick(&WORK_REGS));
    let width = if rng.one_in(2) { Width::W32 } else { Width::W64 };
    let operand = |rng: &mut Rng| if rng.one_in(2) { Operand::Imm(rng.imm()) } else { Operand::Reg(src_reg) };
    let size = rng.pick(&[Size::B, Size::H, Size::W, Size::DW]);
    let mem_off = |rng: &mut Rng, size: Size| {
        let n = size.bytes() as i64;
        // Naturally aligned slots inside the scratch area: [-SCRATCH, 0).
        let slots = SCRATCH as i64 / n;
        (-(rng.below(slots as u64) as i64 + 1) * n) as i16
    };
    match rng.below(20) {
        0..=9 => {
            let op = rng.pick(&[
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
            ]);
            Insn::Alu { op, width, dst, src: operand(rng) }
        }
        10 => Insn::Neg { width, dst },
        11 => {
            let from = match width {
                Width::W32 => rng.pick(&[8, 16]),
                Width::W64 => rng.pick(&[8, 16, 32]),
            };
            Insn::MovSx { width, dst, src: src_reg, from }
        }
        12 => Insn::Endian {
            order: rng.pick(&[ByteOrder::ToLe, ByteOrder::ToBe, ByteOrder::Swap]),
            bits: rng.pick(&[16, 32, 64]),
            dst,
        },
        13 | 14 => {
            let signed = size != Size::DW && rng.one_in(3);
            Insn::Load { size, signed, dst, base: Reg::R10, off: mem_off(rng, size) }
        }
        15 | 16 => Insn::Store { size, base: Reg::R10, off: mem_off(rng, size), src: operand(rng) },
        _ => {
            let size = rng.pick(&[Size::W, Size::DW]);
            let op = rng.pick(&[
                AtomicOp::Add { fetch: false },
                AtomicOp::Add { fetch: true },
                AtomicOp::Or { fetch: false },
                AtomicOp::Or { fetch: true },
                AtomicOp::And { fetch: false },
                AtomicOp::And { fetch: true },
                AtomicOp::Xor { fetch: false },
                AtomicOp::Xor { fetch: true },
                AtomicOp::Xchg,
                AtomicOp::CmpXchg,
            ]);
            Insn::Atomic { op, size, base: Reg::R10, off: mem_off(rng, size), src: reg(rng.pick(&WORK_REGS)) }
        }
    }
}

/// A random condition with random operands, jumping to `target`.
pub fn random_jcond(rng: &mut Rng, target: Pc) -> Insn {
    let cond = rng.pick(&[
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
    ]);
    let width = if rng.one_in(2) { Width::W32 } else { Width::W64 };
    let rhs = if rng.one_in(2) { Operand::Imm(rng.imm()) } else { Operand::Reg(reg(rng.pick(&WORK_REGS))) };
    Insn::Jcond { cond, width, lhs: reg(rng.pick(&WORK_REGS)), rhs, target }
}

/// Builds located instructions with consecutive slots; `Pending` jumps are patched with final slots.
struct Builder {
    insns: Vec<Insn>,
    /// (index of a jump, index of its target instruction)
    fixups: Vec<(usize, usize)>,
}

impl Builder {
    fn push(&mut self, insn: Insn) -> usize {
        self.insns.push(insn);
        self.insns.len() - 1
    }

    fn finish(self) -> Vec<u8> {
        let mut pcs = Vec::with_capacity(self.insns.len() + 1);
        let mut pc = 0;
        for insn in &self.insns {
            pcs.push(pc);
            pc += insn.slots();
        }
        pcs.push(pc);
        let mut insns = self.insns;
        for (at, target) in self.fixups {
            let t = pcs[target];
            match &mut insns[at] {
                Insn::Ja { target, .. } | Insn::Jcond { target, .. } => *target = t,
                Insn::Call(CallTarget::Local(target)) => *target = t,
                other => panic!("fixup on {other:?}"),
            }
        }
        let located: Vec<Located> = insns.into_iter().zip(pcs).map(|(insn, pc)| Located { pc, insn }).collect();
        encode(&located)
    }
}

fn prolog(b: &mut Builder) {
    // r9 holds ctx while the prolog copies; registers are loaded last.
    b.push(Insn::Alu { op: AluOp::Mov, width: Width::W64, dst: Reg::R9, src: Operand::Reg(Reg::R1) });
    for i in 0..SCRATCH / 8 {
        b.push(Insn::Load { size: Size::DW, signed: false, dst: Reg::R0, base: Reg::R9, off: (80 + 8 * i) as i16 });
        b.push(Insn::Store {
            size: Size::DW,
            base: Reg::R10,
            off: -((SCRATCH - 8 * i) as i16),
            src: Operand::Reg(Reg::R0),
        });
    }
    for r in 0..9u8 {
        b.push(Insn::Load { size: Size::DW, signed: false, dst: reg(r), base: Reg::R9, off: 8 * i16::from(r) });
    }
}

fn epilog(b: &mut Builder) {
    // r9 is ctx throughout (the body never writes it); save r0–r8, then the scratch image.
    for r in 0..9u8 {
        b.push(Insn::Store { size: Size::DW, base: Reg::R9, off: 8 * i16::from(r), src: Operand::Reg(reg(r)) });
    }
    for i in 0..SCRATCH / 8 {
        b.push(Insn::Load {
            size: Size::DW,
            signed: false,
            dst: Reg::R0,
            base: Reg::R10,
            off: -((SCRATCH - 8 * i) as i16),
        });
        b.push(Insn::Store { size: Size::DW, base: Reg::R9, off: (80 + 8 * i) as i16, src: Operand::Reg(Reg::R0) });
    }
    b.push(Insn::Alu { op: AluOp::Mov, width: Width::W64, dst: Reg::R0, src: Operand::Reg(Reg::R8) });
    b.push(Insn::Exit);
}

/// A random program of the given shape, as bytecode.
pub fn random_program(rng: &mut Rng, shape: Shape) -> Vec<u8> {
    let mut b = Builder { insns: Vec::new(), fixups: Vec::new() };
    prolog(&mut b);
    let body_start = b.insns.len();
    let mut calls = Vec::new();
    // (first, last) instruction index of each loop: forward jumps from outside may not land inside.
    let mut loops: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < shape.body {
        let roll = rng.below(100);
        if shape.loops && roll < 4 && i + 4 < shape.body {
            // A counted loop over a few straight-line instructions. The counter lives in a stack slot below
            // the scratch area, so the body cannot disturb it; r0 is borrowed around the decrement.
            let n = 1 + rng.below(5) as i32;
            let len = 1 + rng.below(6) as usize;
            let (counter, save) = (-(SCRATCH as i16) - 8, -(SCRATCH as i16) - 16);
            let init = b.push(Insn::Store { size: Size::DW, base: Reg::R10, off: counter, src: Operand::Imm(n) });
            let head = b.insns.len();
            for _ in 0..len {
                b.push(random_simple(rng));
            }
            let r0 = Operand::Reg(Reg::R0);
            b.push(Insn::Store { size: Size::DW, base: Reg::R10, off: save, src: r0 });
            b.push(Insn::Load { size: Size::DW, signed: false, dst: Reg::R0, base: Reg::R10, off: counter });
            b.push(Insn::Alu { op: AluOp::Add, width: Width::W64, dst: Reg::R0, src: Operand::Imm(-1) });
            b.push(Insn::Store { size: Size::DW, base: Reg::R10, off: counter, src: r0 });
            let exit = b.push(Insn::Jcond {
                cond: Cond::Eq,
                width: Width::W64,
                lhs: Reg::R0,
                rhs: Operand::Imm(0),
                target: 0,
            });
            b.push(Insn::Load { size: Size::DW, signed: false, dst: Reg::R0, base: Reg::R10, off: save });
            let back = b.push(Insn::Ja { target: 0, long: false });
            let done = b.push(Insn::Load { size: Size::DW, signed: false, dst: Reg::R0, base: Reg::R10, off: save });
            b.fixups.push((exit, done));
            b.fixups.push((back, head));
            loops.push((init, done));
            i += len;
            continue;
        }
        if shape.jumps && roll < 14 {
            let skip = 1 + rng.below(4) as usize;
            let insn = if rng.one_in(4) { Insn::Ja { target: 0, long: rng.one_in(2) } } else { random_jcond(rng, 0) };
            let j = b.push(insn);
            b.fixups.push((j, usize::MAX - skip));
            i += 1;
            continue;
        }
        if shape.calls && roll < 18 {
            let j = b.push(Insn::Call(CallTarget::Local(0)));
            calls.push(j);
            i += 1;
            continue;
        }
        b.push(random_simple(rng));
        i += 1;
    }
    let epilog_start = b.insns.len();
    epilog(&mut b);
    // Forward jumps: `usize::MAX - skip` means "skip instructions ahead", clamped to the epilog.
    for fix in &mut b.fixups {
        if fix.1 > usize::MAX / 2 {
            let skip = usize::MAX - fix.1;
            fix.1 = (fix.0 + 1 + skip).min(epilog_start);
            if let Some(&(_, last)) = loops.iter().find(|&&(first, last)| fix.1 > first && fix.1 <= last) {
                fix.1 = last + 1;
            }
        }
    }
    debug_assert!(b.fixups.iter().all(|&(_, t)| t >= body_start));
    if !calls.is_empty() {
        let f = b.insns.len();
        for _ in 0..1 + rng.below(8) {
            b.push(random_simple(rng));
        }
        b.push(Insn::Exit);
        for c in calls {
            b.fixups.push((c, f));
        }
    }
    b.finish()
}

/// A random context: ten registers then the scratch image.
pub fn random_ctx(rng: &mut Rng) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(CTX_LEN);
    for _ in 0..10 {
        ctx.extend_from_slice(&rng.value().to_le_bytes());
    }
    for _ in 0..SCRATCH / 8 {
        ctx.extend_from_slice(&rng.value().to_le_bytes());
    }
    ctx
}
