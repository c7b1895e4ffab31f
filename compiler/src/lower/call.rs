//! Call lowering: helpers through `env.helpers`, BPF-to-BPF calls as native calls, `callx`, kfuncs.
//!
//! After every helper or local call the generated code tests `env.status` and returns at once when it is
//! set; that is how `bpf_tail_call`, helper-requested exits and traps inside callees unwind all BPF frames.
//! A local call gets the next frame of the stack area (`fp - 512`); a ninth frame traps `CallDepth` at the
//! call, as the interpreter does. Registers r1–r9 of the caller survive any call unchanged because they
//! are the caller's own SSA variables; the callee starts with r1–r5 copied and r0, r6–r9 zero.

use super::*;
use bpfc_runtime::isa::CallTarget;

/// Helper id of `bpf_map_lookup_elem`.
const BPF_FUNC_MAP_LOOKUP_ELEM: i32 = 1;
/// `BPF_MAP_TYPE_ARRAY`.
const BPF_MAP_TYPE_ARRAY: u32 = 2;

impl FuncLowering<'_, '_> {
    fn helper_sig(&mut self) -> SigRef {
        let cc = self.call_conv;
        *self.helper_sig.get_or_insert_with(|| self.builder.import_signature(helper_signature(cc)))
    }

    /// Calls the helper whose table entry is `fptr` with r1–r5, then handles `env.status`.
    fn call_helper_ptr(&mut self, fptr: Value) {
        if self.has_callbacks {
            let next = self.builder.ins().iadd_imm_s(self.fp, -(abi::STACK_SIZE as i64));
            self.builder.ins().store(env_flags(), next, self.env, env_offsets::CALLBACK_FP);
        }
        let sig = self.helper_sig();
        let mut args = vec![self.env];
        for r in 1..=5 {
            args.push(self.get(Reg::new(r).expect("r1-r5")));
        }
        let call = self.builder.ins().call_indirect(sig, fptr, &args);
        let r0 = self.builder.inst_results(call)[0];
        self.set(Reg::R0, r0);
        // A helper does not know its call site: a trap it raised carries `TRAP_PC_UNKNOWN`, which the
        // call site replaces with its own slot (as the interpreter does) before unwinding.
        let status = self.env_load(env_offsets::STATUS);
        let fixup = self.builder.create_block();
        let cont = self.builder.create_block();
        self.builder.ins().brif(status, fixup, &[], cont, &[]);
        self.builder.switch_to_block(fixup);
        self.builder.seal_block(fixup);
        let pc = self.builder.ins().load(I32, env_flags(), self.env, env_offsets::TRAP_PC);
        let unknown = self.builder.ins().icmp_imm_s(IntCC::Equal, pc, i64::from(u32::MAX as i32));
        let here = self.builder.ins().iconst(I32, i64::from(self.pc as u32));
        let fixed = self.builder.ins().select(unknown, here, pc);
        self.builder.ins().store(env_flags(), fixed, self.env, env_offsets::TRAP_PC);
        self.builder.ins().jump(self.stop_block, &[]);
        self.builder.switch_to_block(cont);
        self.builder.seal_block(cont);
    }

    pub(super) fn call(&mut self, target: CallTarget) {
        match target {
            CallTarget::Helper(BPF_FUNC_MAP_LOOKUP_ELEM) if self.inline_array_lookup() => {}
            CallTarget::Helper(id) => {
                let id_u = id as u32;
                if id_u as usize >= abi::HELPER_TABLE_LEN {
                    return self.trap(TrapCode::UnknownHelper, u64::from(id_u));
                }
                self.helpers_used.insert(id_u);
                let table = self.env_load(env_offsets::HELPERS);
                let fptr = self.builder.ins().load(I64, env_flags(), table, (id_u * 8) as i32);
                let missing = self.builder.ins().icmp_imm_s(IntCC::Equal, fptr, 0);
                let detail = self.builder.ins().iconst(I64, i64::from(id_u));
                self.trap_if(missing, TrapCode::UnknownHelper, detail);
                self.call_helper_ptr(fptr);
            }
            CallTarget::Local(pc) => self.call_local(pc),
            CallTarget::Kfunc { .. } => self.trap(TrapCode::Unsupported, abi::unsupported::KFUNC),
        }
    }

    /// `bpf_map_lookup_elem` on a plain array map known at compile time, in verified code: computed inline
    /// as the kernel's `array_map_gen_lookup` does — `key < max_entries ? values + key * stride : NULL`,
    /// the same address the helper returns (the stride is `round_up(value_size, 8)`, as in the kernel and
    /// `runtime::maps`). Checked code always calls the helper, so a bad key pointer faults identically.
    fn inline_array_lookup(&mut self) -> bool {
        let Some(m) = self.known_map[1] else { return false };
        let Some(map) = self.opts.maps.get(m as usize) else { return false };
        if self.opts.checked || map.map_type != BPF_MAP_TYPE_ARRAY || map.max_entries == 0 {
            return false;
        }
        let (max_entries, stride) = (map.max_entries, i64::from(map.value_size.div_ceil(8) * 8));
        self.helpers_used.insert(BPF_FUNC_MAP_LOOKUP_ELEM as u32);
        let key_ptr = self.get(Reg::R2);
        let key = self.builder.ins().uload32(data_flags(), key_ptr, 0);
        let in_range = self.builder.ins().icmp_imm_u(IntCC::UnsignedLessThan, key, i64::from(max_entries));
        let values = self.env_load(env_offsets::MAP_VALUES);
        let base = self.builder.ins().load(I64, env_flags(), values, (m * 8) as i32);
        let offset = self.builder.ins().imul_imm_s(key, stride);
        let addr = self.builder.ins().iadd(base, offset);
        let null = self.builder.ins().iconst(I64, 0);
        let r0 = self.builder.ins().select(in_range, addr, null);
        self.set(Reg::R0, r0);
        true
    }

    fn call_local(&mut self, pc: Pc) {
        let index = self.cfg.functions().iter().position(|f| f.start == pc).expect("call targets start functions");
        let name = self.ids.functions[index];
        let cc = self.call_conv;
        let callee = *self.callees.entry(name).or_insert_with(|| import_internal(self.builder.func, name, cc));
        let callee_fp = self.builder.ins().iadd_imm_s(self.fp, -(abi::STACK_SIZE as i64));
        let callee_bottom = self.builder.ins().iadd_imm_s(self.fp, -2 * abi::STACK_SIZE as i64);
        let base = self.env_load(env_offsets::STACK_BASE);
        let too_deep = self.builder.ins().icmp(IntCC::UnsignedLessThan, callee_bottom, base);
        let zero = self.builder.ins().iconst(I64, 0);
        self.trap_if(too_deep, TrapCode::CallDepth, zero);
        let mut args = Vec::with_capacity(7);
        for r in 1..=5 {
            args.push(self.get(Reg::new(r).expect("r1-r5")));
        }
        args.push(self.env);
        args.push(callee_fp);
        let call = self.builder.ins().call(callee, &args);
        let r0 = self.builder.inst_results(call)[0];
        self.set(Reg::R0, r0);
        self.stop_if_status();
    }

    /// `callx reg`: the register holds a helper id (uBPF's model; Linux has no callx).
    pub(super) fn callx(&mut self, reg: Reg) {
        let id = self.get(reg);
        let out_of_range =
            self.builder.ins().icmp_imm_s(IntCC::UnsignedGreaterThanOrEqual, id, abi::HELPER_TABLE_LEN as i64);
        self.trap_if(out_of_range, TrapCode::BadCallTarget, id);
        let table = self.env_load(env_offsets::HELPERS);
        let offset = self.builder.ins().ishl_imm_u(id, 3);
        let slot = self.builder.ins().iadd(table, offset);
        let fptr = self.builder.ins().load(I64, env_flags(), slot, 0);
        let missing = self.builder.ins().icmp_imm_s(IntCC::Equal, fptr, 0);
        self.trap_if(missing, TrapCode::BadCallTarget, id);
        self.call_helper_ptr(fptr);
    }
}
