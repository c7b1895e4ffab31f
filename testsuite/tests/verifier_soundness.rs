//! Soundness of the verifier, checked by running what it accepts.
//!
//! `soundness::*`: a seeded generator writes random kprobe programs that use the context, the stack
//! (fixed and variable offsets, spills), a hash map and an array map through `bpf_map_lookup_elem`, a
//! global-data value (`lddw src=6`) and forward branches, with masks and compares that sometimes bound
//! offsets and sometimes do not. Every program the verifier accepts runs in the reference interpreter on
//! random contexts; the interpreter traps out-of-bounds accesses instead of faulting, so any trap other
//! than the instruction budget is a soundness bug and fails the trial, printing the seed and the code.
//!
//! `fuzz::*`: seeded mutations of the corpus bytecode (bit flips, replaced fields, swapped instructions)
//! go through decode and verify: no panic, and every verification finishes within a time bound.
//!
//! Counts: `BPFC_SOUNDNESS_PROGRAMS` (default 300,000 over 20 trials) and `BPFC_FUZZ_MUTATIONS`
//! (default 8,000 over 4 trials).

use bpfc_compiler::verify::{MapDef, VerifyInput, map_type, verify};
use bpfc_runtime::abi::{EventMeta, ProgType, TrapCode};
use bpfc_runtime::bind::{Binding, MapDecl};
use bpfc_runtime::ctx::{Arch, CtxLayout};
use bpfc_runtime::exec::{Outcome, run_interp};
use bpfc_runtime::isa::{AluOp, CallTarget, Code, Cond, Imm64, Insn, Located, Operand, Reg, Size, Width, decode};
use bpfc_testsuite::random::Rng;
use bpfc_testsuite::verifier_corpus::load_dir;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::time::{Duration, Instant};

const END: usize = usize::MAX;
const POOL: [Reg; 6] = [Reg::R2, Reg::R3, Reg::R4, Reg::R5, Reg::R8, Reg::R9];

fn maps() -> Vec<MapDef> {
    vec![
        MapDef {
            name: "h".into(),
            map_type: map_type::HASH,
            key_size: 8,
            value_size: 16,
            max_entries: 8,
            ..MapDef::default()
        },
        MapDef {
            name: "a".into(),
            map_type: map_type::ARRAY,
            key_size: 4,
            value_size: 16,
            max_entries: 4,
            ..MapDef::default()
        },
        MapDef {
            name: "g".into(),
            map_type: map_type::ARRAY,
            key_size: 4,
            value_size: 32,
            max_entries: 1,
            ..MapDef::default()
        },
    ]
}

fn decls(defs: &[MapDef]) -> Vec<MapDecl> {
    defs.iter()
        .map(|d| MapDecl {
            name: d.name.clone(),
            map_type: d.map_type,
            key_size: d.key_size,
            value_size: d.value_size,
            max_entries: d.max_entries,
            flags: d.flags,
            ..MapDecl::default()
        })
        .collect()
}

fn size(rng: &mut Rng) -> Size {
    rng.pick(&[Size::B, Size::H, Size::W, Size::DW])
}

/// A random program; jump targets are instruction indices (`END` = the epilogue) until laid out.
fn generate(rng: &mut Rng) -> Vec<Insn> {
    let mut p = vec![Insn::Alu { op: AluOp::Mov, width: Width::W64, dst: Reg::R6, src: Operand::Reg(Reg::R1) }];
    let mov = |dst, src| Insn::Alu { op: AluOp::Mov, width: Width::W64, dst, src };
    let add = |dst, src| Insn::Alu { op: AluOp::Add, width: Width::W64, dst, src };
    let have_value = !rng.one_in(4);
    if have_value {
        let hash = rng.one_in(2);
        let (off, sz) = if hash { (-8, Size::DW) } else { (-4, Size::W) };
        p.push(Insn::Store { size: sz, base: Reg::R10, off, src: Operand::Imm(rng.below(6) as i32) });
        p.push(mov(Reg::R2, Operand::Reg(Reg::R10)));
        p.push(add(Reg::R2, Operand::Imm(i32::from(off))));
        p.push(Insn::LdImm64 { dst: Reg::R1, imm: Imm64::MapIdx(if hash { 0 } else { 1 }) });
        p.push(Insn::Call(CallTarget::Helper(1)));
        if !rng.one_in(8) {
            p.push(Insn::Jcond { cond: Cond::Eq, width: Width::W64, lhs: Reg::R0, rhs: Operand::Imm(0), target: END });
        }
        p.push(mov(Reg::R7, Operand::Reg(Reg::R0)));
    }
    if !rng.one_in(5) {
        for k in 1..=8 {
            p.push(Insn::Store { size: Size::DW, base: Reg::R10, off: -8 * k - 8, src: Operand::Imm(rng.imm() % 16) });
        }
    }
    for r in POOL {
        if rng.one_in(40) {
            continue;
        }
        p.push(if rng.one_in(2) {
            Insn::Load { size: Size::DW, signed: false, dst: r, base: Reg::R6, off: (rng.below(21) * 8) as i16 }
        } else {
            mov(r, Operand::Imm(rng.imm() % 64))
        });
    }
    let n = 4 + rng.below(22) as usize;
    // Forward jumps land on the first instruction of a later step (`END - step`), never inside one.
    let mut starts = Vec::with_capacity(n);
    for step in 0..n {
        starts.push(p.len());
        let x = rng.pick(&POOL);
        let y = rng.pick(&POOL);
        // Pointers live in r1 only, so the scalar pool never holds one.
        let t = Reg::R1;
        match rng.below(14) {
            0 => {
                let op = rng.pick(&[
                    AluOp::Add,
                    AluOp::Sub,
                    AluOp::Mul,
                    AluOp::And,
                    AluOp::Or,
                    AluOp::Xor,
                    AluOp::Lsh,
                    AluOp::Rsh,
                    AluOp::Arsh,
                    AluOp::Div,
                    AluOp::Mod,
                ]);
                let imm = match op {
                    AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => rng.below(66) as i32,
                    _ => rng.imm() % 256,
                };
                let width = if rng.one_in(3) { Width::W32 } else { Width::W64 };
                p.push(Insn::Alu { op, width, dst: x, src: Operand::Imm(imm) });
            }
            1 => {
                let op = rng.pick(&[AluOp::Add, AluOp::Sub, AluOp::And, AluOp::Or, AluOp::Mov, AluOp::Div, AluOp::Mod]);
                p.push(Insn::Alu { op, width: Width::W64, dst: x, src: Operand::Reg(y) });
            }
            2 | 3 => p.push(Insn::Alu {
                op: AluOp::And,
                width: Width::W64,
                dst: x,
                src: Operand::Imm(rng.pick(&[7, 15, 31, 63, 255, 24, 56])),
            }),
            4 => {
                let off = if rng.one_in(4) { rng.below(180) as i16 } else { (rng.below(22) * 8) as i16 };
                let sz = size(rng);
                p.push(Insn::Load { size: sz, signed: sz != Size::DW && rng.one_in(5), dst: x, base: Reg::R6, off });
            }
            5 => {
                let off = -(if rng.one_in(4) { 1 + rng.below(520) as i16 } else { 8 * (1 + rng.below(8) as i16) });
                let ptr = if have_value { Reg::R7 } else { Reg::R6 };
                let src = if rng.one_in(3) { Operand::Imm(rng.imm()) } else { Operand::Reg(rng.pick(&[x, x, ptr])) };
                p.push(Insn::Store { size: size(rng), base: Reg::R10, off, src });
            }
            6 => {
                let sz = size(rng);
                let off = if rng.one_in(6) {
                    -(1 + rng.below(520) as i16)
                } else {
                    -8 * (2 + rng.below(8) as i16) + (rng.below(8 / sz.bytes() as u64) as i16) * sz.bytes() as i16
                };
                p.push(Insn::Load { size: sz, signed: false, dst: x, base: Reg::R10, off });
            }
            7 if have_value => {
                if !rng.one_in(4) {
                    p.push(Insn::Alu {
                        op: AluOp::And,
                        width: Width::W64,
                        dst: x,
                        src: Operand::Imm(rng.pick(&[1, 3, 7])),
                    });
                }
                p.push(mov(t, Operand::Reg(Reg::R7)));
                p.push(add(t, Operand::Reg(x)));
                let off = if rng.one_in(5) { rng.below(20) as i16 - 2 } else { rng.below(2) as i16 };
                if rng.one_in(2) {
                    p.push(Insn::Load { size: size(rng), signed: false, dst: y, base: t, off });
                } else {
                    p.push(Insn::Store { size: size(rng), base: t, off, src: Operand::Reg(y) });
                }
            }
            8 => {
                p.push(Insn::LdImm64 { dst: t, imm: Imm64::MapIdxValue { idx: 2, off: rng.below(32) as i32 } });
                if rng.one_in(2) {
                    if !rng.one_in(4) {
                        p.push(Insn::Alu {
                            op: AluOp::And,
                            width: Width::W64,
                            dst: x,
                            src: Operand::Imm(rng.pick(&[3, 7, 15])),
                        });
                    }
                    p.push(add(t, Operand::Reg(x)));
                }
                let off = rng.below(36) as i16 - 2;
                p.push(Insn::Load { size: size(rng), signed: false, dst: y, base: t, off });
            }
            9 => {
                if !rng.one_in(4) {
                    p.push(Insn::Alu {
                        op: AluOp::And,
                        width: Width::W64,
                        dst: x,
                        src: Operand::Imm(rng.pick(&[7, 24, 56])),
                    });
                }
                p.push(mov(t, Operand::Reg(Reg::R10)));
                p.push(add(t, Operand::Imm(-64)));
                p.push(add(t, Operand::Reg(x)));
                let off = rng.below(72) as i16 - 4;
                p.push(Insn::Store { size: size(rng), base: t, off, src: Operand::Imm(1) });
            }
            10 | 11 => {
                let cond = rng.pick(&[
                    Cond::Eq,
                    Cond::Ne,
                    Cond::Gt,
                    Cond::Ge,
                    Cond::Lt,
                    Cond::Le,
                    Cond::SGt,
                    Cond::SLt,
                    Cond::Set,
                ]);
                let rhs = if rng.one_in(3) {
                    Operand::Reg(y)
                } else {
                    Operand::Imm(rng.pick(&[0, 1, 7, 8, 15, 16, 24, 64, -1]))
                };
                let width = if rng.one_in(4) { Width::W32 } else { Width::W64 };
                let target = if rng.one_in(3) { END } else { END - (step + 1 + rng.below(4) as usize) };
                p.push(Insn::Jcond { cond, width, lhs: x, rhs, target });
            }
            12 if have_value => {
                p.push(Insn::Store { size: Size::DW, base: Reg::R10, off: -16, src: Operand::Reg(Reg::R7) });
                p.push(Insn::Load { size: Size::DW, signed: false, dst: t, base: Reg::R10, off: -16 });
                p.push(Insn::Load { size: Size::B, signed: false, dst: y, base: t, off: rng.below(17) as i16 });
            }
            _ => p.push(mov(x, Operand::Reg(y))),
        }
    }
    let end = p.len();
    p.push(mov(Reg::R0, if rng.one_in(2) { Operand::Imm(0) } else { Operand::Reg(rng.pick(&POOL)) }));
    p.push(Insn::Exit);
    for i in &mut p {
        if let Insn::Jcond { target, .. } = i {
            *target = if *target == END { end } else { starts.get(END - *target).copied().unwrap_or(end) };
        }
    }
    p
}

fn layout(p: &[Insn]) -> Code {
    let mut pcs = Vec::with_capacity(p.len());
    let mut pc = 0;
    for i in p {
        pcs.push(pc);
        pc += i.slots();
    }
    let insns = p
        .iter()
        .zip(&pcs)
        .map(|(i, &pc)| {
            let insn = match *i {
                Insn::Jcond { cond, width, lhs, rhs, target } => {
                    Insn::Jcond { cond, width, lhs, rhs, target: pcs[target] }
                }
                other => other,
            };
            Located { pc, insn }
        })
        .collect();
    Code::new(insns)
}

fn soundness(seed: u64, count: u64) -> Result<(), Failed> {
    let defs = maps();
    let ctx_layout = CtxLayout::for_prog_type(ProgType::Kprobe, Arch::X86_64).expect("kprobe layout");
    let binding = Binding::new(&decls(&defs)).map_err(|e| e.to_string())?;
    let mut rng = Rng::new(seed);
    let (mut accepted, mut runs) = (0u64, 0u64);
    let mut reasons = std::collections::HashMap::new();
    for n in 0..count {
        let code = layout(&generate(&mut rng));
        let input = VerifyInput {
            name: "random",
            code: &code,
            prog_type: ProgType::Kprobe,
            ctx: &ctx_layout,
            maps: &defs,
            map_fds: &[],
            lines: None,
            gpl: true,
            log_level: 0,
        };
        if let Err(r) = verify(&input) {
            let key = r.kernel.clone().unwrap_or(r.message.clone());
            let key: String = key.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).take(60).collect();
            *reasons.entry(key).or_insert(0u64) += 1;
            continue;
        }
        accepted += 1;
        for _ in 0..3 {
            let mut ctx: Vec<u8> = (0..ctx_layout.size).map(|_| rng.next_u64() as u8).collect();
            // Small register values make bounded indexes likely on both sides of the checks.
            for w in ctx.chunks_mut(8) {
                if rng.one_in(2) {
                    w.copy_from_slice(&(rng.below(40) as i64 - 8).to_le_bytes());
                }
            }
            let mut m = binding.machine(EventMeta::default(), false);
            m.budget = 100_000;
            runs += 1;
            if let Outcome::Trap(t) = run_interp(&m, &code, &mut ctx)
                && t.code != TrapCode::Budget as u32
            {
                return Err(format!(
                    "soundness bug: seed {seed}, program {n}: accepted, but the interpreter trapped {:?} at slot {} \
                         (detail {:#x})\n{}",
                    TrapCode::from_u32(t.code),
                    t.pc,
                    t.detail,
                    bpfc_runtime::isa::disassemble(&code)
                )
                .into());
            }
        }
    }
    if accepted * 20 < count {
        let mut top: Vec<_> = reasons.into_iter().collect();
        top.sort_by_key(|e| std::cmp::Reverse(e.1));
        top.truncate(8);
        return Err(format!(
            "seed {seed}: only {accepted} of {count} programs accepted; the generator is too weak: {top:?}"
        )
        .into());
    }
    eprintln!("soundness seed {seed}: {count} programs, {accepted} accepted, {runs} runs, no traps");
    Ok(())
}

fn fuzz(seed: u64, count: u64) -> Result<(), Failed> {
    let corpus = load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("verifier")).map_err(|e| e.to_string())?;
    let programs: Vec<_> = corpus.iter().filter(|p| p.code.is_ok()).collect();
    let mut rng = Rng::new(seed);
    let mut decoded = 0u64;
    let mut slowest = Duration::ZERO;
    for n in 0..count {
        let p = programs[rng.below(programs.len() as u64) as usize];
        let mut bytes = p.bytes.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(bytes.len() as u64) as usize;
            match rng.below(4) {
                0 => bytes[i] ^= 1 << rng.below(8),
                1 => bytes[i] = rng.next_u64() as u8,
                2 => {
                    // Swap two instructions.
                    let (a, b) = (
                        rng.below(bytes.len() as u64 / 8) as usize * 8,
                        rng.below(bytes.len() as u64 / 8) as usize * 8,
                    );
                    for k in 0..8 {
                        bytes.swap(a + k, b + k);
                    }
                }
                _ => {
                    // Replace an offset or immediate field.
                    let insn = i / 8 * 8;
                    let field = rng.pick(&[2usize, 4]);
                    let v = rng.next_u64().to_le_bytes();
                    bytes[insn + field] = v[0];
                    bytes[insn + field + 1] = v[1];
                }
            }
        }
        let Ok(code) = decode(&bytes) else { continue };
        decoded += 1;
        let ctx = CtxLayout::for_prog_type(p.prog_type, Arch::X86_64).expect("layout");
        let input = VerifyInput {
            name: &p.name,
            code: &code,
            prog_type: p.prog_type,
            ctx: &ctx,
            maps: &p.maps,
            map_fds: &[],
            lines: None,
            gpl: true,
            log_level: if n % 64 == 0 { 2 } else { 0 },
        };
        let start = Instant::now();
        let r = std::panic::catch_unwind(|| verify(&input).map(|_| ()).map_err(|r| r.to_string()));
        let took = start.elapsed();
        slowest = slowest.max(took);
        if r.is_err() {
            return Err(format!(
                "verifier panicked: seed {seed}, mutation {n} of `{}`\n{}",
                p.name,
                bpfc_runtime::isa::disassemble(&code)
            )
            .into());
        }
        if took > Duration::from_secs(60) {
            return Err(format!("verification took {took:?}: seed {seed}, mutation {n} of `{}`", p.name).into());
        }
    }
    eprintln!("fuzz seed {seed}: {count} mutations, {decoded} decoded and verified, slowest {slowest:?}");
    Ok(())
}

fn env_count(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args = Arguments::from_args();
    let programs = env_count("BPFC_SOUNDNESS_PROGRAMS", 300_000);
    let mutations = env_count("BPFC_FUZZ_MUTATIONS", 8_000);
    let mut trials = Vec::new();
    const SOUND_TRIALS: u64 = 20;
    for t in 0..SOUND_TRIALS {
        let seed = 0x5eed_0000 + t;
        trials
            .push(Trial::test(format!("soundness::seed_{seed:#x}"), move || soundness(seed, programs / SOUND_TRIALS)));
    }
    for t in 0..4 {
        let seed = 0xf022_0000 + t;
        trials.push(Trial::test(format!("fuzz::seed_{seed:#x}"), move || fuzz(seed, mutations / 4)));
    }
    libtest_mimic::run(&args, trials).exit();
}
