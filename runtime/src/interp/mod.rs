//! The reference interpreter: the executable specification of RFC 9669 and the kernel's semantics that
//! every compiled result is compared with.
//!
//! Value semantics (ALU, byte order, comparisons) live in [`sem`] as pure functions with their sources.
//! This module fixes the machine state around them; native code reproduces it exactly:
//!
//! - **Entry** (runner contract, `exec`): r1 = ctx address (0 when there is none), r2 = ctx length,
//!   r10 = top of the stack area, r0 and r3–r9 = 0.
//! - **Stack**: frame *d* (0 = entry) spans `[stack_top - (d+1)·512, stack_top - d·512)` and its r10 is
//!   `stack_top - d·512`; at most [`MAX_FRAMES`] frames (kernel `MAX_CALL_FRAMES`). Memory accesses may
//!   reach the whole stack area (frame isolation is the verifier's job, as in the kernel interpreter).
//! - **Local calls** (`call` src 1, RFC 9669 §4.3.1 "program-local functions"): the callee starts with
//!   r1–r5 of the caller, r10 = caller r10 − 512, every other register 0. On `exit` the caller's
//!   registers are restored except r0, which holds the callee's r0 — so r6–r9 are preserved (kernel
//!   calling convention) and r1–r5 are too (stricter than the kernel, which clobbers them; the verifier
//!   forbids reading them). A call that would create a 9th frame traps with `CallDepth` at the call.
//! - **Helper calls** (`call` src 0): r0 = `helpers[imm](env, r1..r5)`; r1–r5 are left unchanged (the
//!   kernel clobbers them; the verifier forbids reading them afterwards). If the helper changed
//!   `env.status`, the program stops at once with that status. Unbound ids trap `UnknownHelper`
//!   (detail = the id's 32-bit pattern).
//! - **`callx reg`**: the register holds a helper id, called as above; an unbound or out-of-range value
//!   traps `BadCallTarget` with the full value as detail. (Linux has no callx; this is the uBPF model
//!   the conformance `callx` test uses.)
//! - **Memory**: address = base register + sign-extended offset (wrapping). Every access goes through
//!   [`crate::mem::Bounds`]; a refused one traps `OutOfBounds` (atomics also `Misaligned`) with the slot,
//!   the address and the access description, and nothing is written.
//! - **Budget**: charged per basic block on entry ([`Cfg::block_len`]): entering a block of *n*
//!   instructions with a remaining budget below *n* traps `Budget` at the block's first slot, otherwise
//!   *n* is subtracted. Returning from a call continues the caller's block without a new charge.
//! - **Callbacks**: `lddw src=4` yields `INTERP_FUNC_TAG | slot`. Before each helper call the interpreter
//!   stores r10 − 512 in `env.callback_fp` (and its remaining budget in `env.budget`); a helper such as
//!   `bpf_loop` runs the callback through the engine hook in that frame, exactly as native code does.
//! - **Unsupported** instructions trap `Unsupported` with a detail code: kfunc
//!   calls, legacy packet loads, and 64-bit immediate loads of map fds, map values by fd, BTF ids and
//!   function addresses (only map-index forms are bound, from `Machine::maps`/`map_values`); codes in
//!   [`crate::abi::unsupported`]. A `src=6` load whose map has no direct value (null `map_values`
//!   entry) traps like an unbound index.

mod sem;
#[cfg(test)]
mod tests;

pub use sem::{alu32, alu64, cond32, cond64, endian, movsx, neg, sign_extend};

use crate::abi::{INTERP_FUNC_TAG, MAX_FRAMES, STACK_SIZE, TrapCode, TrapInfo, unsupported};
use crate::exec::Vm;
use crate::isa::{AtomicOp, CallTarget, Cfg, CfgError, Code, Imm64, Insn, Operand, Pc, Reg, Width};
use crate::mem::access_info;

/// Why code cannot be interpreted at all (an error before execution, never a trap).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InterpError {
    /// The function structure is invalid.
    #[error(transparent)]
    Cfg(#[from] CfgError),
    /// An instruction writes the read-only frame pointer (only possible in hand-built [`Code`]).
    #[error("insn #{at}: frame pointer r10 is read only")]
    WritesR10 {
        /// Slot.
        at: Pc,
    },
    /// The program is empty.
    #[error("program has no instructions")]
    Empty,
}

impl InterpError {
    /// The slot the error is about.
    pub fn pc(&self) -> Pc {
        match self {
            InterpError::Cfg(CfgError::JumpOutOfFunction { at, .. } | CfgError::FallsIntoNextFunction { at, .. }) => {
                *at
            }
            InterpError::WritesR10 { at } => *at,
            InterpError::Empty => 0,
        }
    }
}

/// One pre-decoded instruction: targets as instruction indices, block charge attached.
#[derive(Clone, Copy, Debug)]
struct Op {
    insn: Insn,
    /// Slot of the instruction.
    pc: u32,
    /// Length of the basic block this instruction leads, 0 when it leads none.
    block: u32,
    /// Instruction index of the jump or local-call target.
    target: u32,
}

/// Code validated and laid out for interpretation.
#[derive(Clone, Debug)]
pub struct Program {
    ops: Vec<Op>,
    /// Slots whose address the program takes (`lddw src=4`), with their instruction index: the only
    /// functions a callback may run.
    func_refs: Vec<(u32, u32)>,
}

fn writes_r10(insn: &Insn) -> bool {
    let r10 = Reg::R10;
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::MovSx { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::Load { dst, .. }
        | Insn::LdImm64 { dst, .. } => dst == r10,
        Insn::Atomic { op, src, .. } => src == r10 && !matches!(op, AtomicOp::CmpXchg) && fetches(op),
        _ => false,
    }
}

fn fetches(op: AtomicOp) -> bool {
    match op {
        AtomicOp::Add { fetch } | AtomicOp::Or { fetch } | AtomicOp::And { fetch } | AtomicOp::Xor { fetch } => fetch,
        AtomicOp::Xchg | AtomicOp::CmpXchg => true,
    }
}

impl Program {
    /// Validates `code` (function structure, no r10 writes) and pre-decodes it.
    pub fn new(code: &Code) -> Result<Program, InterpError> {
        if code.is_empty() {
            return Err(InterpError::Empty);
        }
        let cfg = Cfg::new(code)?;
        let mut ops = Vec::with_capacity(code.len());
        for (i, l) in code.insns().iter().enumerate() {
            if writes_r10(&l.insn) {
                return Err(InterpError::WritesR10 { at: l.pc });
            }
            let target = match l.insn {
                Insn::Ja { target, .. } | Insn::Jcond { target, .. } | Insn::Call(CallTarget::Local(target)) => {
                    // Decode guarantees targets start instructions; hand-built code that breaks this is
                    // refused rather than trusted.
                    code.index_of(target).ok_or(InterpError::Cfg(CfgError::JumpOutOfFunction {
                        at: l.pc,
                        target,
                        function: 0,
                    }))? as u32
                }
                _ => 0,
            };
            ops.push(Op { insn: l.insn, pc: l.pc as u32, block: cfg.block_len(i).unwrap_or(0), target });
        }
        let mut func_refs: Vec<(u32, u32)> = code
            .insns()
            .iter()
            .filter_map(|l| match l.insn {
                Insn::LdImm64 { imm: Imm64::Func(t), .. } => Some((t as u32, code.index_of(t)? as u32)),
                _ => None,
            })
            .collect();
        func_refs.sort_unstable();
        func_refs.dedup();
        Ok(Program { ops, func_refs })
    }

    /// The instruction index of the function at `slot`, if the program takes its address.
    pub fn callback_index(&self, slot: u64) -> Option<usize> {
        let slot = u32::try_from(slot).ok()?;
        self.func_refs.iter().find(|&&(s, _)| s == slot).map(|&(_, i)| i as usize)
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the program has no instructions (never true for a built program).
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The register file. Sixteen slots indexed by `reg & 15`, so indexing needs no bounds check (only
/// r0–r10 are ever used).
#[derive(Clone, Copy)]
struct Regs([u64; 16]);

impl std::ops::Index<Reg> for Regs {
    type Output = u64;
    fn index(&self, r: Reg) -> &u64 {
        &self.0[r.index() & 15]
    }
}

impl std::ops::IndexMut<Reg> for Regs {
    fn index_mut(&mut self, r: Reg) -> &mut u64 {
        &mut self.0[r.index() & 15]
    }
}

/// The caller's state saved by a local call.
#[derive(Clone, Copy)]
struct Frame {
    regs: Regs,
    ret: usize,
}

fn trap(code: TrapCode, pc: u32, detail: u64) -> TrapInfo {
    TrapInfo { code: code as u32, pc, detail, access: 0 }
}

/// Runs `p` on the invocation behind `vm` and returns r0 of the entry function. When the run stops
/// otherwise (a trap, or a helper's request), `env.status` says so and the return value is meaningless.
pub(crate) fn execute(p: &Program, vm: &mut Vm<'_, '_>) -> u64 {
    let mut budget = vm.budget();
    let r = run(p, vm, &mut budget);
    vm.set_budget(budget);
    match r {
        Ok(r0) => r0,
        Err(t) => {
            vm.trap(t);
            0
        }
    }
}

fn operand(regs: &Regs, src: Operand, width: Width) -> u64 {
    match (src, width) {
        (Operand::Reg(r), _) => regs[r],
        (Operand::Imm(i), Width::W64) => i as i64 as u64,
        (Operand::Imm(i), Width::W32) => u64::from(i as u32),
    }
}

fn run(p: &Program, vm: &mut Vm<'_, '_>, budget: &mut u64) -> Result<u64, TrapInfo> {
    let mut regs = Regs([0; 16]);
    let (ctx, ctx_len) = vm.ctx();
    regs.0[1] = ctx;
    regs.0[2] = ctx_len;
    regs.0[10] = vm.stack_top();
    run_from(p, vm, budget, 0, regs)
}

/// Runs the callback function at instruction `index` with r1–r5 = `args` in the frame whose top is `fp`
/// (`env.callback_fp`, see `abi`), charging the invocation's budget. Called from a helper (`bpf_loop`).
pub(crate) fn run_callback(
    p: &Program,
    vm: &mut Vm<'_, '_>,
    index: usize,
    args: [u64; 5],
    fp: u64,
) -> Result<u64, TrapInfo> {
    let mut regs = Regs([0; 16]);
    regs.0[1..6].copy_from_slice(&args);
    regs.0[10] = fp;
    let mut budget = vm.budget();
    let r = run_from(p, vm, &mut budget, index, regs);
    vm.set_budget(budget);
    r
}

fn run_from(p: &Program, vm: &mut Vm<'_, '_>, budget: &mut u64, start: usize, mut regs: Regs) -> Result<u64, TrapInfo> {
    let stack_base = vm.stack_base();
    // Saved caller states; `depth` of them are live. A fixed array: a run allocates nothing.
    let mut frames = [Frame { regs: Regs([0; 16]), ret: 0 }; MAX_FRAMES];
    let mut depth = 0usize;
    let mut i = start;
    loop {
        let Some(op) = p.ops.get(i) else {
            // Unreachable for validated programs (Cfg forbids falling off a function); kept as a trap so
            // no input can panic the interpreter.
            let pc = p.ops.last().map_or(0, |o| o.pc);
            return Err(trap(TrapCode::FellOffEnd, pc, 0));
        };
        let pc = op.pc;
        if op.block != 0 {
            let n = u64::from(op.block);
            if *budget < n {
                return Err(trap(TrapCode::Budget, pc, 0));
            }
            *budget -= n;
        }
        i += 1;
        match op.insn {
            Insn::Alu { op: aop, width, dst, src } => {
                let s = operand(&regs, src, width);
                let d = regs[dst];
                regs[dst] = match width {
                    Width::W64 => alu64(aop, d, s),
                    Width::W32 => u64::from(alu32(aop, d as u32, s as u32)),
                };
            }
            Insn::Neg { width, dst } => regs[dst] = neg(width == Width::W64, regs[dst]),
            Insn::MovSx { width, dst, src, from } => regs[dst] = movsx(width == Width::W64, regs[src], from),
            Insn::Endian { order, bits, dst } => regs[dst] = endian(order, bits, regs[dst]),
            Insn::Load { size, signed, dst, base, off } => {
                let addr = regs[base].wrapping_add(off as i64 as u64);
                let v =
                    vm.mem().load(addr, size).map_err(|f| f.trap(addr, access_info(size.bytes(), false, false, pc)))?;
                regs[dst] = if signed { sign_extend(v, size) } else { v };
            }
            Insn::Store { size, base, off, src } => {
                let addr = regs[base].wrapping_add(off as i64 as u64);
                let v = operand(&regs, src, Width::W64);
                vm.mem().store(addr, size, v).map_err(|f| f.trap(addr, access_info(size.bytes(), true, false, pc)))?;
            }
            Insn::Atomic { op: aop, size, base, off, src } => {
                let addr = regs[base].wrapping_add(off as i64 as u64);
                let s = regs[src];
                let fault = |f: crate::mem::Fault| f.trap(addr, access_info(size.bytes(), true, true, pc));
                let m = vm.mem();
                match aop {
                    AtomicOp::Add { fetch }
                    | AtomicOp::Or { fetch }
                    | AtomicOp::And { fetch }
                    | AtomicOp::Xor { fetch } => {
                        let old = m
                            .atomic_rmw(addr, size, |v| match aop {
                                AtomicOp::Add { .. } => v.wrapping_add(s),
                                AtomicOp::Or { .. } => v | s,
                                AtomicOp::And { .. } => v & s,
                                _ => v ^ s,
                            })
                            .map_err(fault)?;
                        if fetch {
                            regs[src] = old;
                        }
                    }
                    AtomicOp::Xchg => regs[src] = m.atomic_rmw(addr, size, |_| s).map_err(fault)?,
                    AtomicOp::CmpXchg => regs.0[0] = m.atomic_cmpxchg(addr, size, regs.0[0], s).map_err(fault)?,
                }
            }
            Insn::LdImm64 { dst, imm } => {
                let unsupported = |k: u64| trap(TrapCode::Unsupported, pc, k);
                regs[dst] = match imm {
                    Imm64::Value(v) => v,
                    Imm64::MapIdx(idx) => vm.map(idx).ok_or(unsupported(unsupported::MAP_INDEX))?,
                    // The offset is the second slot's imm, an unsigned offset into the value (the kernel
                    // rejects offsets beyond the value size).
                    Imm64::MapIdxValue { idx, off } => vm
                        .map_value(idx)
                        .ok_or(unsupported(unsupported::MAP_INDEX))?
                        .wrapping_add(u64::from(off as u32)),
                    Imm64::MapFd(_) => return Err(unsupported(unsupported::MAP_FD)),
                    Imm64::MapValue { .. } => return Err(unsupported(unsupported::MAP_VALUE_FD)),
                    Imm64::BtfId { .. } => return Err(unsupported(unsupported::BTF_ID)),
                    // A function value: the slot, tagged so callback runners can tell it from native code.
                    Imm64::Func(t) => INTERP_FUNC_TAG | t as u64,
                };
            }
            Insn::LdPacket { .. } => return Err(trap(TrapCode::Unsupported, pc, unsupported::LD_PACKET)),
            Insn::Ja { .. } => i = op.target as usize,
            Insn::Jcond { cond, width, lhs, rhs, .. } => {
                let a = regs[lhs];
                let b = operand(&regs, rhs, width);
                let taken = match width {
                    Width::W64 => cond64(cond, a, b),
                    Width::W32 => cond32(cond, a as u32, b as u32),
                };
                if taken {
                    i = op.target as usize;
                }
            }
            Insn::Call(CallTarget::Helper(id)) => {
                let f =
                    vm.helper(u64::from(id as u32)).ok_or(trap(TrapCode::UnknownHelper, pc, u64::from(id as u32)))?;
                // Callbacks the helper runs use the next frame and this invocation's remaining budget.
                vm.before_helper(*budget, regs.0[10].wrapping_sub(STACK_SIZE as u64));
                regs.0[0] = vm.call(f, pc as usize, [regs.0[1], regs.0[2], regs.0[3], regs.0[4], regs.0[5]]);
                *budget = vm.budget();
                if !vm.running() {
                    return Ok(regs.0[0]);
                }
            }
            Insn::CallX { reg } => {
                let v = regs[reg];
                let f = vm.helper(v).ok_or(trap(TrapCode::BadCallTarget, pc, v))?;
                vm.before_helper(*budget, regs.0[10].wrapping_sub(STACK_SIZE as u64));
                regs.0[0] = vm.call(f, pc as usize, [regs.0[1], regs.0[2], regs.0[3], regs.0[4], regs.0[5]]);
                *budget = vm.budget();
                if !vm.running() {
                    return Ok(regs.0[0]);
                }
            }
            Insn::Call(CallTarget::Local(_)) => {
                let top = regs.0[10].wrapping_sub(STACK_SIZE as u64);
                match top.checked_sub(STACK_SIZE as u64) {
                    Some(bottom) if bottom >= stack_base && depth + 1 < MAX_FRAMES => {}
                    _ => return Err(trap(TrapCode::CallDepth, pc, 0)),
                }
                frames[depth] = Frame { regs, ret: i };
                depth += 1;
                let mut callee = Regs([0; 16]);
                callee.0[1..6].copy_from_slice(&regs.0[1..6]);
                callee.0[10] = top;
                regs = callee;
                i = op.target as usize;
            }
            Insn::Call(CallTarget::Kfunc { .. }) => {
                return Err(trap(TrapCode::Unsupported, pc, unsupported::KFUNC));
            }
            Insn::Exit => {
                if depth == 0 {
                    return Ok(regs.0[0]);
                }
                depth -= 1;
                let f = frames[depth];
                let r0 = regs.0[0];
                regs = f.regs;
                regs.0[0] = r0;
                i = f.ret;
            }
        }
    }
}
