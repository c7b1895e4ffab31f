//! The value semantics of BPF instructions as pure functions: every rule that compiled code must match
//! bit for bit is written down here, once, with its source. The lowering cites these functions.
//!
//! Sources: RFC 9669 ("BPF Instruction Set Architecture", §4 "Arithmetic and jump instructions",
//! §5 "Load and store instructions") and the kernel's interpreter `___bpf_prog_run` in
//! `kernel/bpf/core.c`, which is the behaviour the kernel JITs reproduce.

use crate::isa::{AluOp, ByteOrder, Cond, Size};

/// A 64-bit ALU operation (`BPF_ALU64`). The second operand is already a 64-bit value: for `BPF_K` the
/// caller sign-extends the 32-bit immediate (RFC 9669 §4.1: "the 32-bit 'imm' value is sign extended to
/// 64 bits" for ALU64).
///
/// - `div`/`sdiv` by zero give 0 and `mod`/`smod` by zero leave dst unchanged (RFC 9669 §4.1 note on
///   division by zero; kernel core.c `ALU64_DIV_X`/`ALU64_MOD_X` under the verifier's zero-check patch).
/// - `sdiv INT64_MIN, -1` = `INT64_MIN` and `smod INT64_MIN, -1` = 0 — two's-complement wrapping, no
///   trap (the kernel's x86 JIT and the RFC's "overflow wraps").
/// - `sdiv` truncates toward zero and `smod`'s sign follows the dividend (C semantics, RFC 9669 §4.1).
/// - Shift counts are masked to 6 bits at run time (`dst << (src & 63)`), for register and immediate
///   operands alike: RFC 9669 §4.1 masks shifts; the kernel interpreter does the same. Rejecting an
///   out-of-range *constant* shift is a verifier policy (Linux `check_alu_op`), not an execution rule.
pub fn alu64(op: AluOp, dst: u64, src: u64) -> u64 {
    match op {
        AluOp::Add => dst.wrapping_add(src),
        AluOp::Sub => dst.wrapping_sub(src),
        AluOp::Mul => dst.wrapping_mul(src),
        AluOp::Div => dst.checked_div(src).unwrap_or(0),
        AluOp::SDiv => {
            if src == 0 {
                0
            } else {
                (dst as i64).wrapping_div(src as i64) as u64
            }
        }
        AluOp::Mod => dst.checked_rem(src).unwrap_or(dst),
        AluOp::SMod => {
            if src == 0 {
                dst
            } else {
                (dst as i64).wrapping_rem(src as i64) as u64
            }
        }
        AluOp::Or => dst | src,
        AluOp::And => dst & src,
        AluOp::Xor => dst ^ src,
        AluOp::Lsh => dst << (src & 63),
        AluOp::Rsh => dst >> (src & 63),
        AluOp::Arsh => ((dst as i64) >> (src & 63)) as u64,
        AluOp::Mov => src,
    }
}

/// A 32-bit ALU operation (`BPF_ALU`) on the low halves; the caller zero-extends the result into the
/// 64-bit register (RFC 9669 §4.1: "the upper 32 bits of the destination register are zeroed").
/// For `BPF_K` the operand is the immediate's 32-bit pattern.
///
/// The same division and shift rules as [`alu64`] at 32 bits: by-zero gives 0 / keeps dst (the
/// 32-bit form of `mod` by zero yields the low half, zero-extended — kernel core.c `ALU_MOD_X`),
/// `INT32_MIN / -1` wraps, counts are masked to 5 bits.
pub fn alu32(op: AluOp, dst: u32, src: u32) -> u32 {
    match op {
        AluOp::Add => dst.wrapping_add(src),
        AluOp::Sub => dst.wrapping_sub(src),
        AluOp::Mul => dst.wrapping_mul(src),
        AluOp::Div => dst.checked_div(src).unwrap_or(0),
        AluOp::SDiv => {
            if src == 0 {
                0
            } else {
                (dst as i32).wrapping_div(src as i32) as u32
            }
        }
        AluOp::Mod => dst.checked_rem(src).unwrap_or(dst),
        AluOp::SMod => {
            if src == 0 {
                dst
            } else {
                (dst as i32).wrapping_rem(src as i32) as u32
            }
        }
        AluOp::Or => dst | src,
        AluOp::And => dst & src,
        AluOp::Xor => dst ^ src,
        AluOp::Lsh => dst << (src & 31),
        AluOp::Rsh => dst >> (src & 31),
        AluOp::Arsh => ((dst as i32) >> (src & 31)) as u32,
        AluOp::Mov => src,
    }
}

/// `neg`: two's-complement negation; `-INT_MIN = INT_MIN` (RFC 9669 §4.1 "dst = -dst"). The 32-bit
/// form negates the low half and zero-extends.
pub fn neg(wide: bool, dst: u64) -> u64 {
    if wide { dst.wrapping_neg() } else { u64::from((dst as u32).wrapping_neg()) }
}

/// `movsx` (ISA v4, RFC 9669 §4.1 "MOVSX"): sign-extend the low `from` bits of src. The 32-bit forms
/// sign-extend into 32 bits and then zero the upper half, like every 32-bit operation.
pub fn movsx(wide: bool, src: u64, from: u8) -> u64 {
    let v = match from {
        8 => src as i8 as i64,
        16 => src as i16 as i64,
        _ => src as i32 as i64,
    } as u64;
    if wide { v } else { v & 0xffff_ffff }
}

/// Byte-order conversion of the low `bits` of dst (RFC 9669 §4.2). `le`/`be` convert from host order
/// to the named order and truncate to `bits` (on a little-endian host `le16` is `dst & 0xffff` and
/// `le64` a no-op: the `le16-high` conformance tests); `bswap` (ISA v4, ALU64 class) swaps
/// unconditionally. The bits above `bits` are zeroed.
pub fn endian(order: ByteOrder, bits: u8, dst: u64) -> u64 {
    match (order, bits) {
        (ByteOrder::ToLe, 16) => u64::from((dst as u16).to_le()),
        (ByteOrder::ToLe, 32) => u64::from((dst as u32).to_le()),
        (ByteOrder::ToLe, _) => dst.to_le(),
        (ByteOrder::ToBe, 16) => u64::from((dst as u16).to_be()),
        (ByteOrder::ToBe, 32) => u64::from((dst as u32).to_be()),
        (ByteOrder::ToBe, _) => dst.to_be(),
        (ByteOrder::Swap, 16) => u64::from((dst as u16).swap_bytes()),
        (ByteOrder::Swap, 32) => u64::from((dst as u32).swap_bytes()),
        (ByteOrder::Swap, _) => dst.swap_bytes(),
    }
}

/// Sign-extends a loaded value of `size` to 64 bits (`BPF_MEMSX` loads, ISA v4, RFC 9669 §5.2).
pub fn sign_extend(value: u64, size: Size) -> u64 {
    (match size {
        Size::B => value as i8 as i64,
        Size::H => value as i16 as i64,
        Size::W => value as i32 as i64,
        Size::DW => value as i64,
    }) as u64
}

/// A 64-bit conditional jump (`BPF_JMP`): the immediate form compares with the sign-extended
/// immediate (RFC 9669 §4.3), so `jgt r1, -1` compares with `u64::MAX`.
pub fn cond64(cond: Cond, a: u64, b: u64) -> bool {
    match cond {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::Gt => a > b,
        Cond::Ge => a >= b,
        Cond::Lt => a < b,
        Cond::Le => a <= b,
        Cond::Set => a & b != 0,
        Cond::SGt => (a as i64) > (b as i64),
        Cond::SGe => (a as i64) >= (b as i64),
        Cond::SLt => (a as i64) < (b as i64),
        Cond::SLe => (a as i64) <= (b as i64),
    }
}

/// A 32-bit conditional jump (`BPF_JMP32`): compares only the low halves of both operands (the
/// immediate's 32-bit pattern), signed comparisons as `i32`.
pub fn cond32(cond: Cond, a: u32, b: u32) -> bool {
    match cond {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::Gt => a > b,
        Cond::Ge => a >= b,
        Cond::Lt => a < b,
        Cond::Le => a <= b,
        Cond::Set => a & b != 0,
        Cond::SGt => (a as i32) > (b as i32),
        Cond::SGe => (a as i32) >= (b as i32),
        Cond::SLt => (a as i32) < (b as i32),
        Cond::SLe => (a as i32) <= (b as i32),
    }
}
