//! Disassembly in LLVM's BPF syntax, exactly as `llvm-objdump -d --mattr=+alu32` prints it
//! (`w` registers for 32-bit operations and sub-word loads/stores), so our listings can be diffed
//! against llvm-objdump. The only difference: llvm-objdump appends `<sym+off>` to jump targets when the
//! code sits in a symbol; the oracle test strips that suffix.

use super::*;
use std::fmt::{self, Write as _};

/// Signed hex as LLVM prints immediates: `0x5`, `-0x1`.
struct Hex(i64);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 { write!(f, "-{:#x}", (self.0 as i128).unsigned_abs()) } else { write!(f, "{:#x}", self.0) }
    }
}

/// A memory operand `(rN + 0x4)`.
struct Mem(Reg, i16);

impl fmt::Display for Mem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 < 0 {
            write!(f, "({} - {:#x})", self.0, i32::from(self.1).unsigned_abs())
        } else {
            write!(f, "({} + {:#x})", self.0, self.1)
        }
    }
}

/// A register at an operation width: `r1` or `w1`.
struct W(Width, Reg);

impl fmt::Display for W {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Width::W32 => write!(f, "w{}", self.1.num()),
            Width::W64 => write!(f, "r{}", self.1.num()),
        }
    }
}

fn size_width(size: Size) -> Width {
    if size == Size::DW { Width::W64 } else { Width::W32 }
}

fn size_name(size: Size) -> &'static str {
    match size {
        Size::B => "8",
        Size::H => "16",
        Size::W => "32",
        Size::DW => "64",
    }
}

fn alu_symbol(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Mov => "=",
        AluOp::Arsh => "s>>=",
    }
}

fn cond_symbol(cond: Cond) -> &'static str {
    match cond {
        Cond::Eq => "==",
        Cond::Gt => ">",
        Cond::Ge => ">=",
        Cond::Set => "&",
        Cond::Ne => "!=",
        Cond::SGt => "s>",
        Cond::SGe => "s>=",
        Cond::Lt => "<",
        Cond::Le => "<=",
        Cond::SLt => "s<",
        Cond::SLe => "s<=",
    }
}

/// A relative jump as LLVM prints it: `+0x1`, `-0x2`.
struct Rel(i64);

impl fmt::Display for Rel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 { write!(f, "{}", Hex(self.0)) } else { write!(f, "+{}", Hex(self.0)) }
    }
}

fn rel(from: Pc, to: Pc) -> Rel {
    Rel(to as i64 - from as i64 - 1)
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pc = self.pc;
        match self.insn {
            Insn::Alu { op, width, dst, src } => match src {
                Operand::Reg(r) => write!(f, "{} {} {}", W(width, dst), alu_symbol(op), W(width, r)),
                Operand::Imm(i) => write!(f, "{} {} {}", W(width, dst), alu_symbol(op), Hex(i.into())),
            },
            Insn::Neg { width, dst } => write!(f, "{} = -{}", W(width, dst), W(width, dst)),
            Insn::MovSx { width, dst, src, from } => {
                write!(f, "{} = (s{}){}", W(width, dst), from, W(width, src))
            }
            Insn::Endian { order, bits, dst } => {
                let name = match order {
                    ByteOrder::ToLe => "le",
                    ByteOrder::ToBe => "be",
                    ByteOrder::Swap => "bswap",
                };
                write!(f, "{dst} = {name}{bits} {dst}")
            }
            Insn::Load { size, signed, dst, base, off } => {
                if signed {
                    write!(f, "{} = *(s{} *){}", dst, size_name(size), Mem(base, off))
                } else {
                    write!(f, "{} = *(u{} *){}", W(size_width(size), dst), size_name(size), Mem(base, off))
                }
            }
            Insn::Store { size, base, off, src } => {
                write!(f, "*(u{} *){} = ", size_name(size), Mem(base, off))?;
                match src {
                    Operand::Reg(r) => write!(f, "{}", W(size_width(size), r)),
                    Operand::Imm(i) => write!(f, "{}", Hex(i.into())),
                }
            }
            Insn::Atomic { op, size, base, off, src } => {
                let w = size_width(size);
                let bits = size_name(size);
                let fetch_op = |f: &mut fmt::Formatter<'_>, name: &str, sym: &str, fetch: bool| {
                    if fetch {
                        write!(f, "{} = atomic_fetch_{name}((u{bits} *){}, {})", W(w, src), Mem(base, off), W(w, src))
                    } else {
                        write!(f, "lock *(u{bits} *){} {sym} {}", Mem(base, off), W(w, src))
                    }
                };
                let addr = |off: i16| {
                    if off < 0 {
                        format!("{base} - {:#x}", i32::from(off).unsigned_abs())
                    } else {
                        format!("{base} + {off:#x}")
                    }
                };
                let xname = if w == Width::W32 { "32_32" } else { "_64" };
                match op {
                    AtomicOp::Add { fetch } => fetch_op(f, "add", "+=", fetch),
                    AtomicOp::Or { fetch } => fetch_op(f, "or", "|=", fetch),
                    AtomicOp::And { fetch } => fetch_op(f, "and", "&=", fetch),
                    AtomicOp::Xor { fetch } => fetch_op(f, "xor", "^=", fetch),
                    AtomicOp::Xchg => write!(f, "{} = xchg{xname}({}, {})", W(w, src), addr(off), W(w, src)),
                    AtomicOp::CmpXchg => {
                        write!(f, "{} = cmpxchg{xname}({}, {}, {})", W(w, Reg::R0), addr(off), W(w, Reg::R0), W(w, src))
                    }
                }
            }
            Insn::LdImm64 { dst, imm } => {
                let (src, lo) = match imm {
                    Imm64::Value(v) => return write!(f, "{dst} = {} ll", Hex(v as i64)),
                    Imm64::MapFd(fd) => (1, fd),
                    Imm64::MapValue { fd, .. } => (2, fd),
                    Imm64::BtfId { id, .. } => (3, id),
                    Imm64::Func(t) => (4, (t as i64 - pc as i64 - 1) as i32),
                    Imm64::MapIdx(i) => (5, i),
                    Imm64::MapIdxValue { idx, .. } => (6, idx),
                };
                write!(f, "ld_pseudo\t{dst}, {src:#x}, {:#x}", lo as u32)
            }
            Insn::LdPacket { size, index, imm } => match index {
                Some(r) => write!(f, "r0 = *(u{} *)skb[{r}]", size_name(size)),
                None => write!(f, "r0 = *(u{} *)skb[{}]", size_name(size), Hex(imm.into())),
            },
            Insn::Ja { target, long } => {
                write!(f, "{} {}", if long { "gotol" } else { "goto" }, rel(pc, target))
            }
            Insn::Jcond { cond, width, lhs, rhs, target } => {
                write!(f, "if {} {} ", W(width, lhs), cond_symbol(cond))?;
                match rhs {
                    Operand::Reg(r) => write!(f, "{}", W(width, r))?,
                    Operand::Imm(i) => write!(f, "{}", Hex(i.into()))?,
                }
                write!(f, " goto {}", rel(pc, target))
            }
            Insn::Call(CallTarget::Helper(id)) => write!(f, "call {}", Hex(id.into())),
            Insn::Call(CallTarget::Local(t)) => write!(f, "call {}", Hex(t as i64 - pc as i64 - 1)),
            Insn::Call(CallTarget::Kfunc { btf_id, .. }) => write!(f, "call {}", Hex(btf_id.into())),
            Insn::CallX { reg } => write!(f, "callx {reg}"),
            Insn::Exit => write!(f, "exit"),
        }
    }
}

/// One listing line: slot number, raw bytes and text, laid out as llvm-objdump does.
#[derive(Clone, Copy, Debug)]
pub struct Disasm<'a>(pub &'a Located);

impl fmt::Display for Disasm<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(16);
        encode::encode_insn(self.0.pc, &self.0.insn, &mut bytes);
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write!(f, "{:>8}:\t{}\t{}", self.0.pc, hex.join(" "), self.0)
    }
}

/// A full listing of `code`, one line per instruction, each ending in a newline.
pub fn disassemble(code: &Code) -> String {
    let mut out = String::new();
    for l in code.insns() {
        let _ = writeln!(out, "{}", Disasm(l));
    }
    out
}
