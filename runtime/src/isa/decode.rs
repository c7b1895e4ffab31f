//! Bytecode → [`Insn`]: the only place that reads opcode bits.
//!
//! The reserved-field rules follow the kernel's `do_check`/`check_*` family (and RFC 9669 §3): a field
//! the instruction does not use must be zero, so `add r0, 1` with a non-zero src field is rejected, not
//! silently accepted. Targets are resolved to absolute slots and checked to land on an instruction
//! start, never past the end or into the second half of an `lddw`. Decoding never panics on any input.

use super::*;

/// Why bytecode was rejected. `at` is the slot of the offending instruction.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The byte length is not a multiple of 8.
    #[error("bytecode length {len} is not a multiple of 8")]
    Length {
        /// Byte length.
        len: usize,
    },
    /// No instructions at all.
    #[error("program has no instructions")]
    Empty,
    /// The opcode byte is not a BPF instruction.
    #[error("insn #{at}: unknown opcode {opcode:#04x}")]
    UnknownOpcode {
        /// Slot.
        at: Pc,
        /// Opcode byte.
        opcode: u8,
    },
    /// A field the instruction does not use is not zero, or a field has a value it may not have.
    #[error("insn #{at}: opcode {opcode:#04x} uses reserved field `{field}` (value {value})")]
    ReservedField {
        /// Slot.
        at: Pc,
        /// Opcode byte.
        opcode: u8,
        /// Name of the field (`src`, `dst`, `off`, `imm`).
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// A register number above 10.
    #[error("insn #{at}: invalid register r{reg}")]
    BadRegister {
        /// Slot.
        at: Pc,
        /// Register number.
        reg: u8,
    },
    /// Writes to the read-only frame pointer.
    #[error("insn #{at}: frame pointer r10 is read only")]
    WritesR10 {
        /// Slot.
        at: Pc,
    },
    /// An `lddw` without its second slot, or with a malformed one.
    #[error("insn #{at}: invalid lddw: {why}")]
    BadLdImm64 {
        /// Slot.
        at: Pc,
        /// What is wrong.
        why: &'static str,
    },
    /// A jump, call or function reference whose target is outside the program or not an instruction start.
    #[error("insn #{at}: {what} target {target} is out of range (program has {slots} slots)")]
    TargetOutOfRange {
        /// Slot.
        at: Pc,
        /// "jump", "call" or "function reference".
        what: &'static str,
        /// Target slot (may be negative).
        target: i64,
        /// Slots in the program.
        slots: usize,
    },
    /// A target in the middle of an `lddw`.
    #[error("insn #{at}: {what} target {target} is the second slot of an lddw")]
    TargetInLdImm64 {
        /// Slot.
        at: Pc,
        /// "jump", "call" or "function reference".
        what: &'static str,
        /// Target slot.
        target: Pc,
    },
    /// The last instruction can fall through past the end.
    #[error("insn #{at}: last instruction is not an exit or unconditional jump")]
    FallsOffEnd {
        /// Slot.
        at: Pc,
    },
}

struct Raw {
    opcode: u8,
    dst: u8,
    src: u8,
    off: i16,
    imm: i32,
}

fn raw_at(bytes: &[u8], pc: Pc) -> Raw {
    let b = &bytes[pc * 8..pc * 8 + 8];
    Raw {
        opcode: b[0],
        dst: b[1] & 0x0f,
        src: b[1] >> 4,
        off: i16::from_le_bytes([b[2], b[3]]),
        imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    }
}

/// Decodes a whole program and checks every target and the final instruction.
pub fn decode(bytes: &[u8]) -> Result<Code, DecodeError> {
    if !bytes.len().is_multiple_of(8) {
        return Err(DecodeError::Length { len: bytes.len() });
    }
    let slots = bytes.len() / 8;
    if slots == 0 {
        return Err(DecodeError::Empty);
    }
    let mut insns = Vec::with_capacity(slots);
    let mut pc = 0;
    while pc < slots {
        let insn = decode_one(bytes, pc)?;
        insns.push(Located { pc, insn });
        pc += insn.slots();
    }
    let code = Code::new(insns);
    for l in code.insns() {
        let check = |what, target: Pc| -> Result<(), DecodeError> {
            if code.index_of(target).is_none() {
                return Err(DecodeError::TargetInLdImm64 { at: l.pc, what, target });
            }
            Ok(())
        };
        match l.insn {
            Insn::Ja { target, .. } | Insn::Jcond { target, .. } => check("jump", target)?,
            Insn::Call(CallTarget::Local(target)) => check("call", target)?,
            Insn::LdImm64 { imm: Imm64::Func(target), .. } => check("function reference", target)?,
            _ => {}
        }
    }
    let last = code.insns().last().expect("non-empty");
    if last.insn.falls_through() {
        return Err(DecodeError::FallsOffEnd { at: last.pc });
    }
    Ok(code)
}

fn reg(at: Pc, n: u8) -> Result<Reg, DecodeError> {
    Reg::new(n).ok_or(DecodeError::BadRegister { at, reg: n })
}

fn writable(at: Pc, n: u8) -> Result<Reg, DecodeError> {
    let r = reg(at, n)?;
    if r == Reg::R10 {
        return Err(DecodeError::WritesR10 { at });
    }
    Ok(r)
}

fn target(at: Pc, rel: i64, slots: usize, what: &'static str) -> Result<Pc, DecodeError> {
    let t = at as i64 + 1 + rel;
    if t < 0 || t >= slots as i64 {
        return Err(DecodeError::TargetOutOfRange { at, what, target: t, slots });
    }
    Ok(t as Pc)
}

/// Decodes the instruction starting at slot `pc < bytes.len() / 8`. Targets are range-checked against
/// the program length; `decode` checks them against lddw second slots.
fn decode_one(bytes: &[u8], pc: Pc) -> Result<Insn, DecodeError> {
    let slots = bytes.len() / 8;
    let r = raw_at(bytes, pc);
    let op = r.opcode;
    let reserved = |field: &'static str, value: i64| DecodeError::ReservedField { at: pc, opcode: op, field, value };
    let must_zero = |field: &'static str, value: i64| if value != 0 { Err(reserved(field, value)) } else { Ok(()) };
    let unknown = DecodeError::UnknownOpcode { at: pc, opcode: op };
    let class = op & 0x07;
    let is_x = op & 0x08 != 0;
    let size = match op & 0x18 {
        0x00 => Size::W,
        0x08 => Size::H,
        0x10 => Size::B,
        _ => Size::DW,
    };
    match class {
        // BPF_ALU, BPF_ALU64
        0x04 | 0x07 => {
            let width = if class == 0x04 { Width::W32 } else { Width::W64 };
            let code = op & 0xf0;
            match code {
                0x80 => {
                    if is_x {
                        return Err(unknown);
                    }
                    must_zero("src", r.src.into())?;
                    must_zero("off", r.off.into())?;
                    must_zero("imm", r.imm.into())?;
                    Ok(Insn::Neg { width, dst: writable(pc, r.dst)? })
                }
                0xd0 => {
                    let order = match (width, is_x) {
                        (Width::W32, false) => ByteOrder::ToLe,
                        (Width::W32, true) => ByteOrder::ToBe,
                        (Width::W64, false) => ByteOrder::Swap,
                        (Width::W64, true) => return Err(unknown),
                    };
                    must_zero("src", r.src.into())?;
                    must_zero("off", r.off.into())?;
                    if !matches!(r.imm, 16 | 32 | 64) {
                        return Err(reserved("imm", r.imm.into()));
                    }
                    Ok(Insn::Endian { order, bits: r.imm as u8, dst: writable(pc, r.dst)? })
                }
                0xe0 | 0xf0 => Err(unknown),
                0xb0 if is_x && r.off != 0 => {
                    must_zero("imm", r.imm.into())?;
                    let ok = match width {
                        Width::W32 => matches!(r.off, 8 | 16),
                        Width::W64 => matches!(r.off, 8 | 16 | 32),
                    };
                    if !ok {
                        return Err(reserved("off", r.off.into()));
                    }
                    Ok(Insn::MovSx { width, dst: writable(pc, r.dst)?, src: reg(pc, r.src)?, from: r.off as u8 })
                }
                _ => {
                    let signed_ok = matches!(code, 0x30 | 0x90);
                    if r.off != 0 && !(r.off == 1 && signed_ok) {
                        return Err(reserved("off", r.off.into()));
                    }
                    let signed = r.off == 1;
                    let op = match code {
                        0x00 => AluOp::Add,
                        0x10 => AluOp::Sub,
                        0x20 => AluOp::Mul,
                        0x30 if signed => AluOp::SDiv,
                        0x30 => AluOp::Div,
                        0x40 => AluOp::Or,
                        0x50 => AluOp::And,
                        0x60 => AluOp::Lsh,
                        0x70 => AluOp::Rsh,
                        0x90 if signed => AluOp::SMod,
                        0x90 => AluOp::Mod,
                        0xa0 => AluOp::Xor,
                        0xb0 => AluOp::Mov,
                        _ => AluOp::Arsh,
                    };
                    let src = if is_x {
                        must_zero("imm", r.imm.into())?;
                        Operand::Reg(reg(pc, r.src)?)
                    } else {
                        must_zero("src", r.src.into())?;
                        Operand::Imm(r.imm)
                    };
                    Ok(Insn::Alu { op, width, dst: writable(pc, r.dst)?, src })
                }
            }
        }
        // BPF_JMP, BPF_JMP32
        0x05 | 0x06 => {
            let width = if class == 0x05 { Width::W64 } else { Width::W32 };
            let code = op & 0xf0;
            match code {
                0x00 => {
                    if is_x {
                        return Err(unknown);
                    }
                    must_zero("src", r.src.into())?;
                    must_zero("dst", r.dst.into())?;
                    let (rel, long) = match width {
                        Width::W64 => {
                            must_zero("imm", r.imm.into())?;
                            (i64::from(r.off), false)
                        }
                        Width::W32 => {
                            must_zero("off", r.off.into())?;
                            (i64::from(r.imm), true)
                        }
                    };
                    Ok(Insn::Ja { target: target(pc, rel, slots, "jump")?, long })
                }
                0x80 => {
                    if width == Width::W32 {
                        return Err(unknown);
                    }
                    if is_x {
                        must_zero("src", r.src.into())?;
                        must_zero("off", r.off.into())?;
                        must_zero("imm", r.imm.into())?;
                        return Ok(Insn::CallX { reg: reg(pc, r.dst)? });
                    }
                    must_zero("dst", r.dst.into())?;
                    match r.src {
                        0 => {
                            must_zero("off", r.off.into())?;
                            Ok(Insn::Call(CallTarget::Helper(r.imm)))
                        }
                        1 => {
                            must_zero("off", r.off.into())?;
                            Ok(Insn::Call(CallTarget::Local(target(pc, r.imm.into(), slots, "call")?)))
                        }
                        2 => Ok(Insn::Call(CallTarget::Kfunc { btf_id: r.imm, off: r.off })),
                        s => Err(reserved("src", s.into())),
                    }
                }
                0x90 => {
                    if width == Width::W32 || is_x {
                        return Err(unknown);
                    }
                    must_zero("src", r.src.into())?;
                    must_zero("dst", r.dst.into())?;
                    must_zero("off", r.off.into())?;
                    must_zero("imm", r.imm.into())?;
                    Ok(Insn::Exit)
                }
                0xe0 | 0xf0 => Err(unknown),
                _ => {
                    let cond = match code {
                        0x10 => Cond::Eq,
                        0x20 => Cond::Gt,
                        0x30 => Cond::Ge,
                        0x40 => Cond::Set,
                        0x50 => Cond::Ne,
                        0x60 => Cond::SGt,
                        0x70 => Cond::SGe,
                        0xa0 => Cond::Lt,
                        0xb0 => Cond::Le,
                        0xc0 => Cond::SLt,
                        _ => Cond::SLe,
                    };
                    let rhs = if is_x {
                        must_zero("imm", r.imm.into())?;
                        Operand::Reg(reg(pc, r.src)?)
                    } else {
                        must_zero("src", r.src.into())?;
                        Operand::Imm(r.imm)
                    };
                    Ok(Insn::Jcond {
                        cond,
                        width,
                        lhs: reg(pc, r.dst)?,
                        rhs,
                        target: target(pc, r.off.into(), slots, "jump")?,
                    })
                }
            }
        }
        // BPF_LD
        0x00 => match op & 0xe0 {
            0x00 if size == Size::DW => decode_ld_imm64(bytes, pc, &r),
            0x20 | 0x40 if size != Size::DW => {
                must_zero("dst", r.dst.into())?;
                must_zero("off", r.off.into())?;
                let index = if op & 0xe0 == 0x40 {
                    Some(reg(pc, r.src)?)
                } else {
                    must_zero("src", r.src.into())?;
                    None
                };
                Ok(Insn::LdPacket { size, index, imm: r.imm })
            }
            _ => Err(unknown),
        },
        // BPF_LDX
        0x01 => {
            let signed = match op & 0xe0 {
                0x60 => false,
                0x80 if size != Size::DW => true,
                _ => return Err(unknown),
            };
            must_zero("imm", r.imm.into())?;
            Ok(Insn::Load { size, signed, dst: writable(pc, r.dst)?, base: reg(pc, r.src)?, off: r.off })
        }
        // BPF_ST
        0x02 => {
            if op & 0xe0 != 0x60 {
                return Err(unknown);
            }
            must_zero("src", r.src.into())?;
            Ok(Insn::Store { size, base: reg(pc, r.dst)?, off: r.off, src: Operand::Imm(r.imm) })
        }
        // BPF_STX
        _ => match op & 0xe0 {
            0x60 => {
                must_zero("imm", r.imm.into())?;
                Ok(Insn::Store { size, base: reg(pc, r.dst)?, off: r.off, src: Operand::Reg(reg(pc, r.src)?) })
            }
            0xc0 if matches!(size, Size::W | Size::DW) => {
                let aop = match r.imm {
                    0x00 => AtomicOp::Add { fetch: false },
                    0x01 => AtomicOp::Add { fetch: true },
                    0x40 => AtomicOp::Or { fetch: false },
                    0x41 => AtomicOp::Or { fetch: true },
                    0x50 => AtomicOp::And { fetch: false },
                    0x51 => AtomicOp::And { fetch: true },
                    0xa0 => AtomicOp::Xor { fetch: false },
                    0xa1 => AtomicOp::Xor { fetch: true },
                    0xe1 => AtomicOp::Xchg,
                    0xf1 => AtomicOp::CmpXchg,
                    v => return Err(reserved("imm", v.into())),
                };
                let fetches = !matches!(
                    aop,
                    AtomicOp::Add { fetch: false }
                        | AtomicOp::Or { fetch: false }
                        | AtomicOp::And { fetch: false }
                        | AtomicOp::Xor { fetch: false }
                        | AtomicOp::CmpXchg
                );
                let src = if fetches { writable(pc, r.src)? } else { reg(pc, r.src)? };
                Ok(Insn::Atomic { op: aop, size, base: reg(pc, r.dst)?, off: r.off, src })
            }
            _ => Err(unknown),
        },
    }
}

fn decode_ld_imm64(bytes: &[u8], pc: Pc, r: &Raw) -> Result<Insn, DecodeError> {
    let slots = bytes.len() / 8;
    let bad = |why| DecodeError::BadLdImm64 { at: pc, why };
    if pc + 1 >= slots {
        return Err(bad("missing second slot"));
    }
    let hi = raw_at(bytes, pc + 1);
    if hi.opcode != 0 || hi.dst != 0 || hi.src != 0 || hi.off != 0 {
        return Err(bad("second slot must have opcode, registers and offset zero"));
    }
    if r.off != 0 {
        return Err(DecodeError::ReservedField { at: pc, opcode: r.opcode, field: "off", value: r.off.into() });
    }
    let dst = writable(pc, r.dst)?;
    let zero_hi = || if hi.imm != 0 { Err(bad("second slot immediate must be zero for this source")) } else { Ok(()) };
    let imm = match r.src {
        0 => Imm64::Value(u64::from(r.imm as u32) | (u64::from(hi.imm as u32) << 32)),
        1 => {
            zero_hi()?;
            Imm64::MapFd(r.imm)
        }
        2 => Imm64::MapValue { fd: r.imm, off: hi.imm },
        3 => Imm64::BtfId { id: r.imm, btf_fd: hi.imm },
        4 => {
            zero_hi()?;
            Imm64::Func(target(pc, r.imm.into(), slots, "function reference")?)
        }
        5 => {
            zero_hi()?;
            Imm64::MapIdx(r.imm)
        }
        6 => Imm64::MapIdxValue { idx: r.imm, off: hi.imm },
        s => {
            return Err(DecodeError::ReservedField { at: pc, opcode: r.opcode, field: "src", value: s.into() });
        }
    };
    Ok(Insn::LdImm64 { dst, imm })
}
