//! [`Insn`] → bytecode, the exact inverse of `decode` (round-trip tested on every form).

use super::*;

fn slot(opcode: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = opcode;
    b[1] = (src << 4) | (dst & 0x0f);
    b[2..4].copy_from_slice(&off.to_le_bytes());
    b[4..8].copy_from_slice(&imm.to_le_bytes());
    b
}

fn size_bits(size: Size) -> u8 {
    match size {
        Size::W => 0x00,
        Size::H => 0x08,
        Size::B => 0x10,
        Size::DW => 0x18,
    }
}

fn rel(from: Pc, to: Pc) -> i64 {
    to as i64 - from as i64 - 1
}

/// Encodes located instructions (their `pc`s must be consecutive slots) into little-endian bytecode.
/// Relative fields that no longer fit (after a rewrite that moved code) wrap; callers keep them in range.
pub fn encode(insns: &[Located]) -> Vec<u8> {
    let mut out = Vec::with_capacity(insns.len() * 8);
    for l in insns {
        encode_insn(l.pc, &l.insn, &mut out);
    }
    out
}

/// Appends the encoding of one instruction located at `pc`.
pub fn encode_insn(pc: Pc, insn: &Insn, out: &mut Vec<u8>) {
    let class_alu = |w: Width| if w == Width::W32 { 0x04u8 } else { 0x07 };
    let class_jmp = |w: Width| if w == Width::W32 { 0x06u8 } else { 0x05 };
    let s = match *insn {
        Insn::Alu { op, width, dst, src } => {
            let (code, off) = match op {
                AluOp::Add => (0x00, 0),
                AluOp::Sub => (0x10, 0),
                AluOp::Mul => (0x20, 0),
                AluOp::Div => (0x30, 0),
                AluOp::SDiv => (0x30, 1),
                AluOp::Or => (0x40, 0),
                AluOp::And => (0x50, 0),
                AluOp::Lsh => (0x60, 0),
                AluOp::Rsh => (0x70, 0),
                AluOp::Mod => (0x90, 0),
                AluOp::SMod => (0x90, 1),
                AluOp::Xor => (0xa0, 0),
                AluOp::Mov => (0xb0, 0),
                AluOp::Arsh => (0xc0, 0),
            };
            match src {
                Operand::Reg(r) => slot(class_alu(width) | code | 0x08, dst.num(), r.num(), off, 0),
                Operand::Imm(i) => slot(class_alu(width) | code, dst.num(), 0, off, i),
            }
        }
        Insn::Neg { width, dst } => slot(class_alu(width) | 0x80, dst.num(), 0, 0, 0),
        Insn::MovSx { width, dst, src, from } => {
            slot(class_alu(width) | 0xb8, dst.num(), src.num(), i16::from(from), 0)
        }
        Insn::Endian { order, bits, dst } => {
            let op = match order {
                ByteOrder::ToLe => 0xd4,
                ByteOrder::ToBe => 0xdc,
                ByteOrder::Swap => 0xd7,
            };
            slot(op, dst.num(), 0, 0, i32::from(bits))
        }
        Insn::Load { size, signed, dst, base, off } => {
            let mode = if signed { 0x80 } else { 0x60 };
            slot(0x01 | mode | size_bits(size), dst.num(), base.num(), off, 0)
        }
        Insn::Store { size, base, off, src } => match src {
            Operand::Reg(r) => slot(0x63 | size_bits(size), base.num(), r.num(), off, 0),
            Operand::Imm(i) => slot(0x62 | size_bits(size), base.num(), 0, off, i),
        },
        Insn::Atomic { op, size, base, off, src } => {
            let imm = match op {
                AtomicOp::Add { fetch } => i32::from(fetch),
                AtomicOp::Or { fetch } => 0x40 | i32::from(fetch),
                AtomicOp::And { fetch } => 0x50 | i32::from(fetch),
                AtomicOp::Xor { fetch } => 0xa0 | i32::from(fetch),
                AtomicOp::Xchg => 0xe1,
                AtomicOp::CmpXchg => 0xf1,
            };
            slot(0xc3 | size_bits(size), base.num(), src.num(), off, imm)
        }
        Insn::LdImm64 { dst, imm } => {
            let (src, lo, hi) = match imm {
                Imm64::Value(v) => (0, v as u32 as i32, (v >> 32) as u32 as i32),
                Imm64::MapFd(fd) => (1, fd, 0),
                Imm64::MapValue { fd, off } => (2, fd, off),
                Imm64::BtfId { id, btf_fd } => (3, id, btf_fd),
                Imm64::Func(t) => (4, rel(pc, t) as i32, 0),
                Imm64::MapIdx(i) => (5, i, 0),
                Imm64::MapIdxValue { idx, off } => (6, idx, off),
            };
            out.extend_from_slice(&slot(0x18, dst.num(), src, 0, lo));
            slot(0, 0, 0, 0, hi)
        }
        Insn::LdPacket { size, index, imm } => match index {
            Some(r) => slot(0x40 | size_bits(size), 0, r.num(), 0, imm),
            None => slot(0x20 | size_bits(size), 0, 0, 0, imm),
        },
        Insn::Ja { target, long } => {
            if long {
                slot(0x06, 0, 0, 0, rel(pc, target) as i32)
            } else {
                slot(0x05, 0, 0, rel(pc, target) as i16, 0)
            }
        }
        Insn::Jcond { cond, width, lhs, rhs, target } => {
            let code = match cond {
                Cond::Eq => 0x10,
                Cond::Gt => 0x20,
                Cond::Ge => 0x30,
                Cond::Set => 0x40,
                Cond::Ne => 0x50,
                Cond::SGt => 0x60,
                Cond::SGe => 0x70,
                Cond::Lt => 0xa0,
                Cond::Le => 0xb0,
                Cond::SLt => 0xc0,
                Cond::SLe => 0xd0,
            };
            let off = rel(pc, target) as i16;
            match rhs {
                Operand::Reg(r) => slot(class_jmp(width) | code | 0x08, lhs.num(), r.num(), off, 0),
                Operand::Imm(i) => slot(class_jmp(width) | code, lhs.num(), 0, off, i),
            }
        }
        Insn::Call(CallTarget::Helper(id)) => slot(0x85, 0, 0, 0, id),
        Insn::Call(CallTarget::Local(t)) => slot(0x85, 0, 1, 0, rel(pc, t) as i32),
        Insn::Call(CallTarget::Kfunc { btf_id, off }) => slot(0x85, 0, 2, off, btf_id),
        Insn::CallX { reg } => slot(0x8d, reg.num(), 0, 0, 0),
        Insn::Exit => slot(0x95, 0, 0, 0, 0),
    };
    out.extend_from_slice(&s);
}
