//! ALU lowering: arithmetic, shifts, division guards, sign extension and byte swaps.
//!
//! 32-bit operations compute on `i32` values and zero-extend the result into the 64-bit register.
//! Immediates of 64-bit operations are sign-extended. Shift counts are masked explicitly (Cranelift masks
//! too, but an explicit `& 63` keeps constant folding honest). Division and remainder never reach a
//! Cranelift trap: the divisor is replaced by 1 where it is 0 (or -1 for signed ops) and the BPF result is
//! chosen with `select` — `x/0 = 0`, `x%0 = x`, `MIN/-1 = MIN` (i.e. `-x`), `MIN%-1 = 0`.

use super::*;
use bpfc_runtime::isa::{AluOp, ByteOrder, Cond, Operand, Width};
use cranelift_codegen::ir::types::{I8, I16};

fn ty(width: Width) -> ir::Type {
    match width {
        Width::W32 => I32,
        Width::W64 => I64,
    }
}

/// `v` truncated to the width of `t`, as Cranelift wants narrow immediates (zero-extended).
pub(super) fn masked(t: ir::Type, v: i64) -> i64 {
    match t.bits() {
        64 => v,
        bits => v & ((1i64 << bits) - 1),
    }
}

/// An integer constant of type `t` holding the low bits of `v`.
pub(super) fn iconst(b: &mut FunctionBuilder<'_>, t: ir::Type, v: i64) -> Value {
    b.ins().iconst(t, masked(t, v))
}

impl FuncLowering<'_, '_> {
    /// A register's value at `width` (the low half for 32-bit operations).
    fn operand_reg(&mut self, r: Reg, width: Width) -> Value {
        let v = self.get(r);
        match width {
            Width::W32 => self.builder.ins().ireduce(I32, v),
            Width::W64 => v,
        }
    }

    /// An operand at `width`: immediates are sign-extended to 64 bits for 64-bit operations.
    pub(super) fn operand(&mut self, src: Operand, width: Width) -> Value {
        match src {
            Operand::Reg(r) => self.operand_reg(r, width),
            Operand::Imm(i) => iconst(&mut self.builder, ty(width), i64::from(i)),
        }
    }

    /// Writes a `width` result into `dst`, zero-extending 32-bit results.
    fn set_width(&mut self, dst: Reg, v: Value, width: Width) {
        let v = match width {
            Width::W32 => self.builder.ins().uextend(I64, v),
            Width::W64 => v,
        };
        self.set(dst, v);
    }

    pub(super) fn alu(&mut self, op: AluOp, width: Width, dst: Reg, src: Operand) {
        let t = ty(width);
        let bits = if width == Width::W32 { 31 } else { 63 };
        if op == AluOp::Mov {
            let v = self.operand(src, width);
            self.set_width(dst, v, width);
            return;
        }
        let a = self.operand_reg(dst, width);
        let result = match op {
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => {
                let n = match src {
                    Operand::Imm(i) => self.builder.ins().iconst(t, i64::from(i) & bits),
                    Operand::Reg(_) => {
                        let n = self.operand(src, width);
                        self.builder.ins().band_imm_u(n, bits)
                    }
                };
                match op {
                    AluOp::Lsh => self.builder.ins().ishl(a, n),
                    AluOp::Rsh => self.builder.ins().ushr(a, n),
                    _ => self.builder.ins().sshr(a, n),
                }
            }
            AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod => self.division(op, t, a, src, width),
            _ => {
                let b = self.operand(src, width);
                let fb = &mut self.builder;
                match op {
                    AluOp::Add => fb.ins().iadd(a, b),
                    AluOp::Sub => fb.ins().isub(a, b),
                    AluOp::Mul => fb.ins().imul(a, b),
                    AluOp::Or => fb.ins().bor(a, b),
                    AluOp::And => fb.ins().band(a, b),
                    AluOp::Xor => fb.ins().bxor(a, b),
                    AluOp::Mov
                    | AluOp::Lsh
                    | AluOp::Rsh
                    | AluOp::Arsh
                    | AluOp::Div
                    | AluOp::Mod
                    | AluOp::SDiv
                    | AluOp::SMod => unreachable!("handled above"),
                }
            }
        };
        self.set_width(dst, result, width);
    }

    /// Guarded division and remainder (see the module header for the rules).
    fn division(&mut self, op: AluOp, t: ir::Type, a: Value, src: Operand, width: Width) -> Value {
        let signed = matches!(op, AluOp::SDiv | AluOp::SMod);
        let is_div = matches!(op, AluOp::Div | AluOp::SDiv);
        if let Operand::Imm(i) = src {
            // Constant divisors need no guards; fold the special cases.
            let fb = &mut self.builder;
            return match (i, signed, is_div) {
                (0, _, true) => fb.ins().iconst(t, 0),
                (0, _, false) => a,
                (-1, true, true) => fb.ins().ineg(a),
                (-1, true, false) => fb.ins().iconst(t, 0),
                _ => {
                    let b = fb.ins().iconst(t, masked(t, i64::from(i)));
                    match (signed, is_div) {
                        (false, true) => fb.ins().udiv(a, b),
                        (false, false) => fb.ins().urem(a, b),
                        (true, true) => fb.ins().sdiv(a, b),
                        (true, false) => fb.ins().srem(a, b),
                    }
                }
            };
        }
        let b = self.operand(src, width);
        let fb = &mut self.builder;
        let zero = fb.ins().iconst(t, 0);
        let one = fb.ins().iconst(t, 1);
        let b_is_zero = fb.ins().icmp_imm_s(IntCC::Equal, b, 0);
        if !signed {
            let safe = fb.ins().select(b_is_zero, one, b);
            return if is_div {
                let q = fb.ins().udiv(a, safe);
                fb.ins().select(b_is_zero, zero, q)
            } else {
                let r = fb.ins().urem(a, safe);
                fb.ins().select(b_is_zero, a, r)
            };
        }
        let m1 = fb.ins().iconst(t, masked(t, -1));
        let b_is_m1 = fb.ins().icmp(IntCC::Equal, b, m1);
        let special = fb.ins().bor(b_is_zero, b_is_m1);
        let safe = fb.ins().select(special, one, b);
        if is_div {
            let q = fb.ins().sdiv(a, safe);
            let neg = fb.ins().ineg(a);
            let q = fb.ins().select(b_is_m1, neg, q);
            fb.ins().select(b_is_zero, zero, q)
        } else {
            let r = fb.ins().srem(a, safe);
            let r = fb.ins().select(b_is_m1, zero, r);
            fb.ins().select(b_is_zero, a, r)
        }
    }

    pub(super) fn neg(&mut self, width: Width, dst: Reg) {
        let a = self.operand_reg(dst, width);
        let v = self.builder.ins().ineg(a);
        self.set_width(dst, v, width);
    }

    pub(super) fn movsx(&mut self, width: Width, dst: Reg, src: Reg, from: u8) {
        let v = self.get(src);
        let narrow = match from {
            8 => I8,
            16 => I16,
            _ => I32,
        };
        let t = ty(width);
        let low = self.builder.ins().ireduce(narrow, v);
        let ext = if narrow == t { low } else { self.builder.ins().sextend(t, low) };
        self.set_width(dst, ext, width);
    }

    pub(super) fn endian(&mut self, order: ByteOrder, bits: u8, dst: Reg) {
        let v = self.get(dst);
        let narrow = match bits {
            16 => I16,
            32 => I32,
            _ => I64,
        };
        let low = if narrow == I64 { v } else { self.builder.ins().ireduce(narrow, v) };
        // On the little-endian BPF machine `le` only truncates; `be` and `bswap` swap bytes.
        let converted = match order {
            ByteOrder::ToLe => low,
            ByteOrder::ToBe | ByteOrder::Swap => self.builder.ins().bswap(low),
        };
        let out = if narrow == I64 { converted } else { self.builder.ins().uextend(I64, converted) };
        self.set(dst, out);
    }

    pub(super) fn jcond(&mut self, cond: Cond, width: Width, lhs: Reg, rhs: Operand, target: Pc) {
        let a = self.operand_reg(lhs, width);
        let b = self.operand(rhs, width);
        let fb = &mut self.builder;
        let taken = match cond {
            Cond::Set => {
                let and = fb.ins().band(a, b);
                fb.ins().icmp_imm_s(IntCC::NotEqual, and, 0)
            }
            _ => {
                let cc = match cond {
                    Cond::Eq => IntCC::Equal,
                    Cond::Ne => IntCC::NotEqual,
                    Cond::Gt => IntCC::UnsignedGreaterThan,
                    Cond::Ge => IntCC::UnsignedGreaterThanOrEqual,
                    Cond::Lt => IntCC::UnsignedLessThan,
                    Cond::Le => IntCC::UnsignedLessThanOrEqual,
                    Cond::SGt => IntCC::SignedGreaterThan,
                    Cond::SGe => IntCC::SignedGreaterThanOrEqual,
                    Cond::SLt => IntCC::SignedLessThan,
                    Cond::SLe => IntCC::SignedLessThanOrEqual,
                    Cond::Set => unreachable!("handled above"),
                };
                fb.ins().icmp(cc, a, b)
            }
        };
        let then_block = self.block_at(target);
        let next = self.code.index_of(self.pc + 1).expect("a conditional jump is never last");
        let else_block = self.blocks[&next];
        self.builder.ins().brif(taken, then_block, &[], else_block, &[]);
        self.terminated = true;
    }
}
