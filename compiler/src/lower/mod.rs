//! Lifting BPF to Cranelift IR: one Cranelift function per BPF function.
//!
//! Algorithm (after wasmtime's translator and rbpf's CFG pre-pass):
//! 1. `isa::Cfg` splits the program into functions and basic blocks. Every leader gets a Cranelift block
//!    up front, because a filled Cranelift block cannot be reopened.
//! 2. r0–r10 are `Variable`s; SSA construction is left to `FunctionBuilder`. A block is sealed as soon as
//!    its last predecessor has been translated (for back edges that is the jump at the loop's end).
//! 3. Each instruction is translated by one exhaustive `match` that delegates to `alu`, `mem` and `call`;
//!    `set_srcloc(slot)` tags every instruction so machine code maps back to BPF slots.
//!
//! Internal functions take `(r1, r2, r3, r4, r5, env, fp) -> r0` in the target's default calling
//! convention; `fp` is the function's frame top (r10) inside the runner-provided stack area, so r10 values
//! are identical to the interpreter's. Each program also gets an entry wrapper with the C ABI of
//! `abi::EntryFn` that loads r2 and r10 from `env` and calls the first function.
//!
//! Semantics follow `bpfc_runtime::interp` exactly; every rule is cited there. Two hazards specific to
//! Cranelift are handled here: `udiv/urem/sdiv/srem` trap on a zero divisor (and `sdiv/srem` on MIN/-1), so
//! every division is guarded branch-free with `select`, and no Cranelift trap instruction is ever
//! emitted — abnormal stops go through `env.status` and return, like the interpreter's traps.

mod alu;
mod call;
mod mem;

use bpfc_runtime::abi::{self, TrapCode, env_offsets};
use bpfc_runtime::isa::{Cfg, CfgError, Code, Function as BpfFunction, Insn, Pc, Reg};
use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, Block, ExtFuncData, ExternalName, FuncRef, InstBuilder, MemFlagsData, SigRef, Signature, SourceLoc,
    UserExternalName, UserFuncName, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use std::collections::{BTreeSet, HashMap};

/// How to lower a program.
#[derive(Clone, Debug, Default)]
pub struct LowerOptions {
    /// Bounds-check every memory access through `env.check` and charge the instruction budget per block.
    pub checked: bool,
    /// The maps bound in `env.maps`, in index order (indexes beyond them trap as unsupported). Their
    /// layouts let verified code look up array maps inline, as the kernel's `map_gen_lookup` does.
    pub maps: Vec<bpfc_runtime::bind::MapDecl>,
}

/// Why a program could not be lowered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LowerError {
    /// The function structure is invalid.
    #[error(transparent)]
    Cfg(#[from] CfgError),
    /// Cranelift's IR verifier rejected generated code (a bpfc bug).
    #[error("function `{function}`: Cranelift verifier: {message}")]
    Verifier {
        /// Function name.
        function: String,
        /// Verifier output.
        message: String,
    },
}

/// Whether the entry function's body is compiled directly as the program entry (`abi::EntryFn`): when
/// nothing calls it, which is nearly always, the separate wrapper and its extra call are not needed.
pub fn entry_is_inlined(code: &Code, cfg: &Cfg) -> bool {
    let start = cfg.functions()[0].start;
    !code.insns().iter().any(|l| match l.insn {
        Insn::Call(bpfc_runtime::isa::CallTarget::Local(t)) => t == start,
        Insn::LdImm64 { imm: bpfc_runtime::isa::Imm64::Func(t), .. } => t == start,
        _ => false,
    })
}

/// The lowered functions of one program: the entry first (a wrapper, or function 0 itself when
/// [`entry_is_inlined`]), then one per remaining BPF function.
#[derive(Clone, Debug)]
pub struct LoweredProgram {
    /// Cranelift functions, entry wrapper first.
    pub functions: Vec<ir::Function>,
    /// Helper ids the program calls directly.
    pub helpers_used: BTreeSet<u32>,
}

/// Maps BPF function `i` of a program to the `UserExternalName` index its Cranelift function is known by
/// (the emitter's `FuncId`s), so calls between functions can be resolved by `cranelift-module`.
#[derive(Clone, Debug)]
pub struct FunctionIds {
    /// Name index of the entry wrapper.
    pub entry: u32,
    /// Name index of each BPF function, in `Cfg::functions` order.
    pub functions: Vec<u32>,
    /// Name index of the callback trampoline of each function whose address the program takes, by slot
    /// (in [`callback_targets`] order).
    pub callbacks: Vec<(Pc, u32)>,
}

impl FunctionIds {
    /// Consecutive ids starting at `base`: the entry wrapper, the functions, then the trampolines.
    pub fn sequential(base: u32, function_count: usize, callbacks: &[Pc]) -> FunctionIds {
        let after = base + 1 + function_count as u32;
        FunctionIds {
            entry: base,
            functions: (0..function_count as u32).map(|i| base + 1 + i).collect(),
            callbacks: callbacks.iter().enumerate().map(|(i, &pc)| (pc, after + i as u32)).collect(),
        }
    }
}

/// Slots of the functions whose address the program takes (`lddw src=4`): each gets a trampoline with the
/// helper ABI that `bpf_loop` and friends call (see `abi`: callbacks run in the frame `env.callback_fp`).
pub fn callback_targets(code: &Code) -> Vec<Pc> {
    let mut targets: Vec<Pc> = code
        .insns()
        .iter()
        .filter_map(|l| match l.insn {
            Insn::LdImm64 { imm: bpfc_runtime::isa::Imm64::Func(t), .. } => Some(t),
            _ => None,
        })
        .collect();
    targets.sort_unstable();
    targets.dedup();
    targets
}

/// Signature of internal BPF functions: `(r1..r5, env, fp) -> r0`.
pub fn internal_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..7 {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I64));
    sig
}

/// Signature of program entries (`abi::EntryFn`): `(ctx, env) -> r0`.
pub fn entry_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(I64));
    sig.params.push(AbiParam::new(I64));
    sig.returns.push(AbiParam::new(I64));
    sig
}

/// Signature of helpers and callback trampolines: `(env, r1..r5) -> r0`.
pub fn helper_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..6 {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I64));
    sig
}

fn check_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..3 {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I64));
    sig
}

/// Memory flags for BPF data accesses: BPF is little-endian whatever the host, and only verified or
/// checked code runs, so no access traps.
pub(crate) fn data_flags() -> MemFlagsData {
    MemFlagsData::new().with_notrap().with_endianness(ir::Endianness::Little)
}

/// Flags for loads from the runtime's own `Env` block (host-endian, always valid).
pub(crate) fn env_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Lowers every function of `code` into Cranelift IR.
pub fn lower_program(
    code: &Code,
    opts: &LowerOptions,
    ids: &FunctionIds,
    frontend: TargetFrontendConfig,
    call_conv: CallConv,
) -> Result<LoweredProgram, LowerError> {
    let cfg = Cfg::new(code)?;
    let mut fctx = FunctionBuilderContext::new();
    let mut functions = Vec::with_capacity(cfg.functions().len() + 1);
    let inline = entry_is_inlined(code, &cfg);
    if !inline {
        functions.push(lower_entry(ids, frontend, call_conv, &mut fctx));
    }
    let mut helpers_used = BTreeSet::new();
    for (i, f) in cfg.functions().iter().enumerate() {
        let mut func = if i == 0 && inline {
            ir::Function::with_name_signature(UserFuncName::user(0, ids.entry), entry_signature(call_conv))
        } else {
            ir::Function::with_name_signature(UserFuncName::user(0, ids.functions[i]), internal_signature(call_conv))
        };
        let builder = FunctionBuilder::new(&mut func, &mut fctx);
        let mut lowering = FuncLowering::new(code, &cfg, f, opts, ids, builder, call_conv);
        lowering.translate();
        helpers_used.extend(lowering.helpers_used.iter().copied());
        lowering.builder.finalize(frontend);
        functions.push(func);
    }
    for &(pc, id) in &ids.callbacks {
        let index = cfg.functions().iter().position(|f| f.start == pc).expect("function references start functions");
        functions.push(lower_trampoline(ids.functions[index], id, frontend, call_conv, &mut fctx));
    }
    Ok(LoweredProgram { functions, helpers_used })
}

/// Runs Cranelift's IR verifier on every function (done by tests and debug builds).
pub fn verify(program: &LoweredProgram, flags: &cranelift_codegen::settings::Flags) -> Result<(), LowerError> {
    for f in &program.functions {
        cranelift_codegen::verify_function(f, flags)
            .map_err(|e| LowerError::Verifier { function: f.name.to_string(), message: e.to_string() })?;
    }
    Ok(())
}

fn import_internal(func: &mut ir::Function, index: u32, call_conv: CallConv) -> FuncRef {
    let name = func.declare_imported_user_function(UserExternalName::new(0, index));
    let signature = func.import_signature(internal_signature(call_conv));
    func.import_function(ExtFuncData { name: ExternalName::user(name), signature, colocated: true, patchable: false })
}

fn lower_entry(
    ids: &FunctionIds,
    frontend: TargetFrontendConfig,
    call_conv: CallConv,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, ids.entry), entry_signature(call_conv));
    let callee = import_internal(&mut func, ids.functions[0], call_conv);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let (ctx, env) = (b.block_params(block)[0], b.block_params(block)[1]);
    let ctx_len = b.ins().load(I64, env_flags(), env, env_offsets::CTX_LEN);
    let fp = b.ins().load(I64, env_flags(), env, env_offsets::STACK_TOP);
    let zero = b.ins().iconst(I64, 0);
    let call = b.ins().call(callee, &[ctx, ctx_len, zero, zero, zero, env, fp]);
    let r0 = b.inst_results(call)[0];
    b.ins().return_(&[r0]);
    b.finalize(frontend);
    func
}

/// A callback trampoline: the helper ABI `(env, r1..r5) -> r0` around BPF function `target`, run in the
/// frame `env.callback_fp` names (a ninth frame traps `CallDepth`, slot filled in by the helper's call
/// site), restoring `callback_fp` afterwards so a helper can call it again.
fn lower_trampoline(
    target: u32,
    id: u32,
    frontend: TargetFrontendConfig,
    call_conv: CallConv,
    fctx: &mut FunctionBuilderContext,
) -> ir::Function {
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, id), helper_signature(call_conv));
    let callee = import_internal(&mut func, target, call_conv);
    let mut b = FunctionBuilder::new(&mut func, fctx);
    let block = b.create_block();
    b.append_block_params_for_function_params(block);
    b.switch_to_block(block);
    b.seal_block(block);
    let params = b.block_params(block).to_vec();
    let env = params[0];
    let fp = b.ins().load(I64, env_flags(), env, env_offsets::CALLBACK_FP);
    let bottom = b.ins().iadd_imm_s(fp, -(abi::STACK_SIZE as i64));
    let base = b.ins().load(I64, env_flags(), env, env_offsets::STACK_BASE);
    let too_deep = b.ins().icmp(IntCC::UnsignedLessThan, bottom, base);
    let trap = b.create_block();
    let body = b.create_block();
    b.ins().brif(too_deep, trap, &[], body, &[]);
    b.switch_to_block(trap);
    b.seal_block(trap);
    let code = b.ins().iconst(I32, TrapCode::CallDepth as i64);
    b.ins().store(env_flags(), code, env, env_offsets::TRAP_CODE);
    let unknown = b.ins().iconst(I32, i64::from(u32::MAX));
    b.ins().store(env_flags(), unknown, env, env_offsets::TRAP_PC);
    let zero = b.ins().iconst(I64, 0);
    b.ins().store(env_flags(), zero, env, env_offsets::TRAP_DETAIL);
    let status = b.ins().iconst(I64, abi::STATUS_TRAP as i64);
    b.ins().store(env_flags(), status, env, env_offsets::STATUS);
    b.ins().return_(&[zero]);
    b.switch_to_block(body);
    b.seal_block(body);
    let call = b.ins().call(callee, &[params[1], params[2], params[3], params[4], params[5], env, fp]);
    let r0 = b.inst_results(call)[0];
    b.ins().store(env_flags(), fp, env, env_offsets::CALLBACK_FP);
    b.ins().return_(&[r0]);
    b.finalize(frontend);
    func
}

/// Translation state of one BPF function.
pub(crate) struct FuncLowering<'a, 'b> {
    code: &'a Code,
    cfg: &'a Cfg,
    function: &'a BpfFunction,
    opts: &'a LowerOptions,
    ids: &'a FunctionIds,
    call_conv: CallConv,
    pub(crate) builder: FunctionBuilder<'b>,
    regs: [Variable; Reg::COUNT],
    env: Value,
    fp: Value,
    /// Cranelift block of every leader, by instruction index.
    blocks: HashMap<usize, Block>,
    /// Blocks to seal once the instruction with this index has been translated.
    seal_after: HashMap<usize, Vec<Block>>,
    /// Returns 0 at once; reached when `env.status` says stop.
    stop_block: Block,
    callees: HashMap<u32, FuncRef>,
    helper_sig: Option<SigRef>,
    check_sig: Option<SigRef>,
    pub(crate) helpers_used: BTreeSet<u32>,
    /// Per register: the map index it holds when that is known within the current block (set by
    /// `lddw map[i]`, forgotten on any other write and at block boundaries).
    known_map: [Option<u32>; Reg::COUNT],
    /// Whether the program takes function addresses (helpers may then run callbacks in the next frame).
    has_callbacks: bool,
    /// Whether the current block already ends in a terminator.
    terminated: bool,
    /// Slot of the instruction being translated.
    pc: Pc,
}

impl<'a, 'b> FuncLowering<'a, 'b> {
    fn new(
        code: &'a Code,
        cfg: &'a Cfg,
        function: &'a BpfFunction,
        opts: &'a LowerOptions,
        ids: &'a FunctionIds,
        mut builder: FunctionBuilder<'b>,
        call_conv: CallConv,
    ) -> Self {
        let regs = std::array::from_fn(|_| builder.declare_var(I64));
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        builder.seal_block(entry);
        let params = builder.block_params(entry).to_vec();
        let zero = builder.ins().iconst(I64, 0);
        for r in [0, 6, 7, 8, 9] {
            builder.def_var(regs[r], zero);
        }
        let (env, fp) = if params.len() == 2 {
            // The program entry itself (`abi::EntryFn`): r1 = ctx, r2 = ctx_len, r3–r5 = 0, r10 = stack top.
            let env = params[1];
            let ctx_len = builder.ins().load(I64, env_flags(), env, env_offsets::CTX_LEN);
            let fp = builder.ins().load(I64, env_flags(), env, env_offsets::STACK_TOP);
            builder.def_var(regs[1], params[0]);
            builder.def_var(regs[2], ctx_len);
            for r in 3..=5 {
                builder.def_var(regs[r], zero);
            }
            (env, fp)
        } else {
            for r in 1..=5 {
                builder.def_var(regs[r], params[r - 1]);
            }
            (params[5], params[6])
        };
        builder.def_var(regs[10], fp);

        // One block per leader; count predecessors to know when each can be sealed.
        let mut blocks = HashMap::new();
        let mut last_pred: HashMap<usize, usize> = HashMap::new();
        for i in function.first..function.last {
            if cfg.block_len(i).is_some() {
                blocks.insert(i, builder.create_block());
            }
        }
        for i in function.first..function.last {
            let insn = &code.insns()[i].insn;
            if let Some(t) = insn.jump_target() {
                let ti = code.index_of(t).expect("decode checked targets");
                let e = last_pred.entry(ti).or_insert(i);
                *e = (*e).max(i);
            }
            if insn.falls_through() && i + 1 < function.last && blocks.contains_key(&(i + 1)) {
                let e = last_pred.entry(i + 1).or_insert(i);
                *e = (*e).max(i);
            }
        }
        // The first block's only extra predecessor is the entry block.
        let mut seal_after: HashMap<usize, Vec<Block>> = HashMap::new();
        for (&i, &block) in &blocks {
            match last_pred.get(&i) {
                Some(&p) if p >= i => seal_after.entry(p).or_default().push(block),
                // All predecessors precede the block (or there are none): seal on arrival.
                _ => seal_after.entry(usize::MAX).or_default().push(block),
            }
        }
        let first_block = blocks[&function.first];
        builder.ins().jump(first_block, &[]);
        let stop_block = builder.create_block();
        FuncLowering {
            code,
            cfg,
            function,
            opts,
            ids,
            call_conv,
            builder,
            regs,
            env,
            fp,
            blocks,
            seal_after,
            stop_block,
            callees: HashMap::new(),
            helper_sig: None,
            check_sig: None,
            helpers_used: BTreeSet::new(),
            known_map: [None; Reg::COUNT],
            has_callbacks: !ids.callbacks.is_empty(),
            terminated: true,
            pc: function.start,
        }
    }

    fn translate(&mut self) {
        let seal_on_arrival: BTreeSet<Block> =
            self.seal_after.remove(&usize::MAX).unwrap_or_default().into_iter().collect();
        for i in self.function.first..self.function.last {
            let located = self.code.insns()[i];
            self.pc = located.pc;
            if let Some(&block) = self.blocks.get(&i) {
                if !self.terminated {
                    self.builder.ins().jump(block, &[]);
                }
                self.builder.switch_to_block(block);
                self.known_map = [None; Reg::COUNT];
                if seal_on_arrival.contains(&block) {
                    self.builder.seal_block(block);
                }
                self.terminated = false;
                self.builder.set_srcloc(SourceLoc::new(located.pc as u32));
                if self.opts.checked {
                    let n = self.cfg.block_len(i).expect("leader");
                    self.charge_budget(n);
                }
            }
            self.builder.set_srcloc(SourceLoc::new(located.pc as u32));
            self.translate_insn(&located.insn);
            if let Some(blocks) = self.seal_after.remove(&i) {
                for b in blocks {
                    self.builder.seal_block(b);
                }
            }
        }
        // Every function ends in exit or a jump (Cfg checked it), so the last block is terminated.
        debug_assert!(self.terminated);
        self.builder.switch_to_block(self.stop_block);
        self.builder.seal_block(self.stop_block);
        let zero = self.builder.ins().iconst(I64, 0);
        self.builder.ins().return_(&[zero]);
    }

    fn translate_insn(&mut self, insn: &Insn) {
        match *insn {
            Insn::Alu { op, width, dst, src } => self.alu(op, width, dst, src),
            Insn::Neg { width, dst } => self.neg(width, dst),
            Insn::MovSx { width, dst, src, from } => self.movsx(width, dst, src, from),
            Insn::Endian { order, bits, dst } => self.endian(order, bits, dst),
            Insn::Load { size, signed, dst, base, off } => self.load(size, signed, dst, base, off),
            Insn::Store { size, base, off, src } => self.store(size, base, off, src),
            Insn::Atomic { op, size, base, off, src } => self.atomic(op, size, base, off, src),
            Insn::LdImm64 { dst, imm } => self.ld_imm64(dst, imm),
            Insn::LdPacket { .. } => self.trap(TrapCode::Unsupported, abi::unsupported::LD_PACKET),
            Insn::Ja { target, .. } => {
                let block = self.block_at(target);
                self.builder.ins().jump(block, &[]);
                self.terminated = true;
            }
            Insn::Jcond { cond, width, lhs, rhs, target } => self.jcond(cond, width, lhs, rhs, target),
            Insn::Call(target) => self.call(target),
            Insn::CallX { reg } => self.callx(reg),
            Insn::Exit => {
                let r0 = self.get(Reg::R0);
                self.builder.ins().return_(&[r0]);
                self.terminated = true;
            }
        }
    }

    fn block_at(&self, pc: Pc) -> Block {
        self.blocks[&self.code.index_of(pc).expect("decode checked targets")]
    }

    pub(crate) fn get(&mut self, r: Reg) -> Value {
        self.builder.use_var(self.regs[r.index()])
    }

    pub(crate) fn set(&mut self, r: Reg, v: Value) {
        self.known_map[r.index()] = None;
        self.builder.def_var(self.regs[r.index()], v);
    }

    fn env_load(&mut self, offset: i32) -> Value {
        self.builder.ins().load(I64, env_flags(), self.env, offset)
    }

    /// Continues in a fresh block after `cond` sends control to `target` (a single-predecessor split).
    fn branch_out_if(&mut self, cond: Value, target: Block) {
        let cont = self.builder.create_block();
        self.builder.ins().brif(cond, target, &[], cont, &[]);
        self.builder.switch_to_block(cont);
        self.builder.seal_block(cont);
    }

    /// Stops the program when a helper or callee set `env.status`.
    fn stop_if_status(&mut self) {
        let status = self.env_load(env_offsets::STATUS);
        self.branch_out_if(status, self.stop_block);
    }

    /// Traps with `code` and `detail` when `cond` is non-zero, else continues in a fresh block.
    fn trap_if(&mut self, cond: Value, code: TrapCode, detail: Value) {
        let trap = self.builder.create_block();
        let cont = self.builder.create_block();
        self.builder.ins().brif(cond, trap, &[], cont, &[]);
        self.builder.switch_to_block(trap);
        self.builder.seal_block(trap);
        self.write_trap(code, detail);
        let zero = self.builder.ins().iconst(I64, 0);
        self.builder.ins().return_(&[zero]);
        self.builder.switch_to_block(cont);
        self.builder.seal_block(cont);
    }

    fn write_trap(&mut self, code: TrapCode, detail: Value) {
        let b = &mut self.builder;
        let code_v = b.ins().iconst(I32, code as u32 as i64);
        b.ins().store(env_flags(), code_v, self.env, env_offsets::TRAP_CODE);
        let pc_v = b.ins().iconst(I32, self.pc as u32 as i64);
        b.ins().store(env_flags(), pc_v, self.env, env_offsets::TRAP_PC);
        b.ins().store(env_flags(), detail, self.env, env_offsets::TRAP_DETAIL);
        let status = b.ins().iconst(I64, abi::STATUS_TRAP as i64);
        b.ins().store(env_flags(), status, self.env, env_offsets::STATUS);
    }

    /// An unconditional trap at the current instruction; the rest of the block is unreachable.
    fn trap(&mut self, code: TrapCode, detail: u64) {
        let d = self.builder.ins().iconst(I64, detail as i64);
        self.write_trap(code, d);
        let zero = self.builder.ins().iconst(I64, 0);
        self.builder.ins().return_(&[zero]);
        // Later instructions of this BPF block still need a block to be emitted into.
        let dead = self.builder.create_block();
        self.builder.switch_to_block(dead);
        self.builder.seal_block(dead);
    }

    /// Checked mode: charge `n` instructions at block entry, trapping `Budget` if fewer remain.
    fn charge_budget(&mut self, n: u32) {
        let budget = self.env_load(env_offsets::BUDGET);
        let short = self.builder.ins().icmp_imm_s(IntCC::UnsignedLessThan, budget, i64::from(n));
        let zero = self.builder.ins().iconst(I64, 0);
        self.trap_if(short, TrapCode::Budget, zero);
        let left = self.builder.ins().iadd_imm_s(budget, -i64::from(n));
        self.builder.ins().store(env_flags(), left, self.env, env_offsets::BUDGET);
    }
}

#[cfg(test)]
mod tests;
