//! Memory lowering: loads (zero- and sign-extending), stores, atomics and 64-bit immediate loads.
//!
//! Verified code accesses memory directly (the verifier proved every access in bounds). Checked code first
//! calls `env.check(env, addr, size | write << 8 | atomic << 9 | slot << 32)`; a zero answer means the
//! runtime recorded the trap and the function returns through the stop block — the same trap, slot and
//! address the interpreter reports.

use super::alu::iconst;
use super::*;
use bpfc_runtime::isa::{AtomicOp, Imm64, Operand, Size};
use cranelift_codegen::ir::AtomicRmwOp;

fn size_info(size: Size) -> u64 {
    size.bytes() as u64
}

impl FuncLowering<'_, '_> {
    /// The address `base + off`, checked in checked mode.
    fn address(&mut self, base: Reg, off: i16, size: Size, write: bool, atomic: bool) -> Value {
        let b = self.get(base);
        let addr = self.builder.ins().iadd_imm_s(b, i64::from(off));
        if self.opts.checked {
            let info = size_info(size) | (u64::from(write) << 8) | (u64::from(atomic) << 9) | ((self.pc as u64) << 32);
            let check = self.env_load(env_offsets::CHECK);
            let sig =
                *self.check_sig.get_or_insert_with(|| self.builder.import_signature(check_signature(self.call_conv)));
            let info_v = self.builder.ins().iconst(I64, info as i64);
            let call = self.builder.ins().call_indirect(sig, check, &[self.env, addr, info_v]);
            let ok = self.builder.inst_results(call)[0];
            let denied = self.builder.ins().icmp_imm_s(IntCC::Equal, ok, 0);
            self.branch_out_if(denied, self.stop_block);
        }
        addr
    }

    pub(super) fn load(&mut self, size: Size, signed: bool, dst: Reg, base: Reg, off: i16) {
        let addr = self.address(base, off, size, false, false);
        let f = data_flags();
        let fb = &mut self.builder;
        let v = match (size, signed) {
            (Size::B, false) => fb.ins().uload8(I64, f, addr, 0),
            (Size::H, false) => fb.ins().uload16(I64, f, addr, 0),
            (Size::W, false) => fb.ins().uload32(f, addr, 0),
            (Size::B, true) => fb.ins().sload8(I64, f, addr, 0),
            (Size::H, true) => fb.ins().sload16(I64, f, addr, 0),
            (Size::W, true) => fb.ins().sload32(f, addr, 0),
            (Size::DW, _) => fb.ins().load(I64, f, addr, 0),
        };
        self.set(dst, v);
    }

    pub(super) fn store(&mut self, size: Size, base: Reg, off: i16, src: Operand) {
        let addr = self.address(base, off, size, true, false);
        let v = match src {
            Operand::Reg(r) => self.get(r),
            Operand::Imm(i) => self.builder.ins().iconst(I64, i64::from(i)),
        };
        let f = data_flags();
        let fb = &mut self.builder;
        match size {
            Size::B => fb.ins().istore8(f, v, addr, 0),
            Size::H => fb.ins().istore16(f, v, addr, 0),
            Size::W => fb.ins().istore32(f, v, addr, 0),
            Size::DW => fb.ins().store(f, v, addr, 0),
        };
    }

    pub(super) fn atomic(&mut self, op: AtomicOp, size: Size, base: Reg, off: i16, src: Reg) {
        let addr = self.address(base, off, size, true, true);
        let t = if size == Size::W { I32 } else { I64 };
        let narrow = |s: &mut Self, v: Value| if t == I32 { s.builder.ins().ireduce(I32, v) } else { v };
        let widen = |s: &mut Self, v: Value| if t == I32 { s.builder.ins().uextend(I64, v) } else { v };
        let f = data_flags();
        let x = self.get(src);
        let x = narrow(self, x);
        if op == AtomicOp::CmpXchg {
            let r0 = self.get(Reg::R0);
            let expected = narrow(self, r0);
            let old = self.builder.ins().atomic_cas(f, addr, expected, x);
            let old = widen(self, old);
            self.set(Reg::R0, old);
            return;
        }
        let (rmw, fetch) = match op {
            AtomicOp::Add { fetch } => (AtomicRmwOp::Add, fetch),
            AtomicOp::Or { fetch } => (AtomicRmwOp::Or, fetch),
            AtomicOp::And { fetch } => (AtomicRmwOp::And, fetch),
            AtomicOp::Xor { fetch } => (AtomicRmwOp::Xor, fetch),
            AtomicOp::Xchg => (AtomicRmwOp::Xchg, true),
            AtomicOp::CmpXchg => unreachable!("handled above"),
        };
        let old = self.builder.ins().atomic_rmw(t, f, rmw, addr, x);
        if fetch {
            let old = widen(self, old);
            self.set(src, old);
        }
    }

    pub(super) fn ld_imm64(&mut self, dst: Reg, imm: Imm64) {
        let v = match imm {
            Imm64::Value(v) => iconst(&mut self.builder, I64, v as i64),
            Imm64::MapIdx(i) if (i as u32) < self.opts.maps.len() as u32 => {
                let maps = self.env_load(env_offsets::MAPS);
                let handle = self.builder.ins().load(I64, env_flags(), maps, i * 8);
                self.set(dst, handle);
                self.known_map[dst.index()] = Some(i as u32);
                return;
            }
            Imm64::MapIdxValue { idx, off } if (idx as u32) < self.opts.maps.len() as u32 => {
                // Maps without a direct value address (null) cannot be referenced this way; the offset
                // is unsigned, as in the kernel.
                let values = self.env_load(env_offsets::MAP_VALUES);
                let base = self.builder.ins().load(I64, env_flags(), values, idx * 8);
                let missing = self.builder.ins().icmp_imm_s(IntCC::Equal, base, 0);
                let detail = self.builder.ins().iconst(I64, abi::unsupported::MAP_INDEX as i64);
                self.trap_if(missing, TrapCode::Unsupported, detail);
                self.builder.ins().iadd_imm_s(base, i64::from(off as u32))
            }
            Imm64::MapIdx(_) | Imm64::MapIdxValue { .. } => {
                return self.trap(TrapCode::Unsupported, abi::unsupported::MAP_INDEX);
            }
            Imm64::MapFd(_) => return self.trap(TrapCode::Unsupported, abi::unsupported::MAP_FD),
            Imm64::MapValue { .. } => return self.trap(TrapCode::Unsupported, abi::unsupported::MAP_VALUE_FD),
            Imm64::BtfId { .. } => return self.trap(TrapCode::Unsupported, abi::unsupported::BTF_ID),
            Imm64::Func(t) => match self.ids.callbacks.iter().find(|&&(pc, _)| pc == t) {
                Some(&(_, id)) => {
                    let cc = self.call_conv;
                    let sig = self.builder.import_signature(helper_signature(cc));
                    let name = self.builder.func.declare_imported_user_function(UserExternalName::new(0, id));
                    let fref = self.builder.import_function(ExtFuncData {
                        name: ExternalName::user(name),
                        signature: sig,
                        colocated: true,
                        patchable: false,
                    });
                    self.builder.ins().func_addr(I64, fref)
                }
                None => return self.trap(TrapCode::Unsupported, abi::unsupported::FUNC_REF),
            },
        };
        self.set(dst, v);
    }
}
