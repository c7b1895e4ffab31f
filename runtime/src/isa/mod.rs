//! The BPF instruction set (RFC 9669, including ISA v4), as one typed enum.
//!
//! `decode` is the only code in bpfc that looks at opcode bits: it turns little-endian bytecode into
//! [`Insn`]s once, merging the two slots of a 64-bit immediate load, resolving jump and call targets to
//! absolute slot numbers and rejecting every reserved-field violation. Everything downstream —
//! interpreter, verifier, lowering, disassembler, assembler — matches on [`Insn`] exhaustively, so an
//! instruction class can never be half-handled (the "JMP32 treated as a flag" class of bug).
//!
//! Slots vs instructions: a program is a sequence of 8-byte *slots*; `lddw` takes two. Jump targets,
//! error locations and disassembly all use slot numbers ([`Pc`]), as the kernel and llvm-objdump do.

mod asm;
mod cfg;
mod decode;
mod disasm;
mod encode;

pub use asm::{AsmError, assemble};
pub use cfg::{Cfg, CfgError, Function};
pub use decode::{DecodeError, decode};
pub use disasm::{Disasm, disassemble};
pub use encode::encode;

use std::fmt;

/// A slot number: the index of an 8-byte unit in the bytecode.
pub type Pc = usize;

/// One of the eleven BPF registers. `r10` is the read-only frame pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reg(u8);

impl Reg {
    /// Return value, and the helper/function result register.
    pub const R0: Reg = Reg(0);
    /// First argument; the context pointer at program entry.
    pub const R1: Reg = Reg(1);
    /// Second argument.
    pub const R2: Reg = Reg(2);
    /// Third argument.
    pub const R3: Reg = Reg(3);
    /// Fourth argument.
    pub const R4: Reg = Reg(4);
    /// Fifth argument.
    pub const R5: Reg = Reg(5);
    /// Callee-saved.
    pub const R6: Reg = Reg(6);
    /// Callee-saved.
    pub const R7: Reg = Reg(7);
    /// Callee-saved.
    pub const R8: Reg = Reg(8);
    /// Callee-saved.
    pub const R9: Reg = Reg(9);
    /// The frame pointer (read-only).
    pub const R10: Reg = Reg(10);
    /// Number of registers.
    pub const COUNT: usize = 11;

    /// The register with this number, if it exists.
    pub fn new(n: u8) -> Option<Reg> {
        (n <= 10).then_some(Reg(n))
    }

    /// The register number, usable as an array index.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// The register number.
    pub fn num(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// Operation width of ALU and conditional-jump instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Width {
    /// 32-bit: operands are the low halves; ALU results are zero-extended.
    W32,
    /// 64-bit.
    W64,
}

/// The second operand of ALU, jump and store instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operand {
    /// A register (`BPF_X`).
    Reg(Reg),
    /// The 32-bit immediate (`BPF_K`); sign-extended for 64-bit operations.
    Imm(i32),
}

/// Two-operand ALU operations (`dst = dst OP src`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AluOp {
    /// Wrapping add.
    Add,
    /// Wrapping subtract.
    Sub,
    /// Wrapping multiply.
    Mul,
    /// Unsigned divide; by zero gives 0.
    Div,
    /// Signed divide (ISA v4, offset 1); by zero gives 0, `MIN / -1 = MIN`.
    SDiv,
    /// Bitwise or.
    Or,
    /// Bitwise and.
    And,
    /// Left shift, count masked to the width.
    Lsh,
    /// Logical right shift, count masked to the width.
    Rsh,
    /// Unsigned remainder; by zero leaves dst unchanged.
    Mod,
    /// Signed remainder (ISA v4, offset 1); by zero leaves dst, `MIN % -1 = 0`.
    SMod,
    /// Bitwise xor.
    Xor,
    /// Move.
    Mov,
    /// Arithmetic right shift, count masked to the width.
    Arsh,
}

/// Memory access size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Size {
    /// 1 byte.
    B,
    /// 2 bytes.
    H,
    /// 4 bytes.
    W,
    /// 8 bytes.
    DW,
}

impl Size {
    /// Size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }
}

/// Byte-order conversions (`BPF_END`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// `le16/32/64`: to little endian; on a little-endian machine a truncation.
    ToLe,
    /// `be16/32/64`: to big endian; on a little-endian machine a byte swap.
    ToBe,
    /// `bswap16/32/64` (ISA v4, ALU64 class): unconditional byte swap.
    Swap,
}

/// Read-modify-write operations of atomic instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AtomicOp {
    /// `lock *p += src`, with `fetch` the old value goes to src.
    Add {
        /// Return the old value in src.
        fetch: bool,
    },
    /// `lock *p |= src`.
    Or {
        /// Return the old value in src.
        fetch: bool,
    },
    /// `lock *p &= src`.
    And {
        /// Return the old value in src.
        fetch: bool,
    },
    /// `lock *p ^= src`.
    Xor {
        /// Return the old value in src.
        fetch: bool,
    },
    /// Exchange: src gets the old value, memory gets src.
    Xchg,
    /// Compare with r0 and exchange: if `*p == r0` then `*p = src`; r0 always gets the old value.
    CmpXchg,
}

/// Conditions of conditional jumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// `==`
    Eq,
    /// unsigned `>`
    Gt,
    /// unsigned `>=`
    Ge,
    /// `&` is non-zero
    Set,
    /// `!=`
    Ne,
    /// signed `>`
    SGt,
    /// signed `>=`
    SGe,
    /// unsigned `<`
    Lt,
    /// unsigned `<=`
    Le,
    /// signed `<`
    SLt,
    /// signed `<=`
    SLe,
}

/// What a 64-bit immediate load (`lddw`, opcode 0x18) loads, by its source field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Imm64 {
    /// src 0: the 64-bit constant.
    Value(u64),
    /// src 1 (`BPF_PSEUDO_MAP_FD`): the map with this fd.
    MapFd(i32),
    /// src 2 (`BPF_PSEUDO_MAP_VALUE`): address of a map's value plus an offset.
    MapValue {
        /// The map's fd.
        fd: i32,
        /// Byte offset into the (single) value.
        off: i32,
    },
    /// src 3 (`BPF_PSEUDO_BTF_ID`): address of a kernel variable by BTF id.
    BtfId {
        /// BTF type id.
        id: i32,
        /// Module BTF fd (second slot), 0 for vmlinux.
        btf_fd: i32,
    },
    /// src 4 (`BPF_PSEUDO_FUNC`): address of the function at this slot.
    Func(Pc),
    /// src 5 (`BPF_PSEUDO_MAP_IDX`): the map with this index in the object's map table.
    MapIdx(i32),
    /// src 6 (`BPF_PSEUDO_MAP_IDX_VALUE`): map by index, value address plus offset.
    MapIdxValue {
        /// Index in the map table.
        idx: i32,
        /// Byte offset into the value.
        off: i32,
    },
}

/// The target of a `call` instruction (opcode 0x85), by its source field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CallTarget {
    /// src 0: a helper function by id.
    Helper(i32),
    /// src 1 (`BPF_PSEUDO_CALL`): a BPF function starting at this slot.
    Local(Pc),
    /// src 2 (`BPF_PSEUDO_KFUNC_CALL`): a kernel function by BTF id; `off` selects module BTF.
    Kfunc {
        /// BTF id of the function.
        btf_id: i32,
        /// Index of the module BTF fd (0 for vmlinux).
        off: i16,
    },
}

/// One decoded instruction. `lddw` is one `Insn` covering two slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Insn {
    /// `dst = dst OP src` (ALU or ALU64 class).
    Alu {
        /// The operation.
        op: AluOp,
        /// 32 or 64 bit.
        width: Width,
        /// Destination (and first operand).
        dst: Reg,
        /// Second operand.
        src: Operand,
    },
    /// `dst = -dst`.
    Neg {
        /// 32 or 64 bit.
        width: Width,
        /// Operand and destination.
        dst: Reg,
    },
    /// `dst = (sN) src` (ISA v4 MOVSX): sign-extend the low `from` bits.
    MovSx {
        /// 32-bit forms sign-extend into 32 bits and zero the upper half.
        width: Width,
        /// Destination.
        dst: Reg,
        /// Source register.
        src: Reg,
        /// 8, 16 or 32 (32 only with 64-bit width).
        from: u8,
    },
    /// Byte order conversion of the low `bits` (16, 32 or 64) of dst; the rest is zeroed.
    Endian {
        /// Which conversion.
        order: ByteOrder,
        /// 16, 32 or 64.
        bits: u8,
        /// Operand and destination.
        dst: Reg,
    },
    /// `dst = *(size *)(base + off)`, zero- or sign-extended.
    Load {
        /// Access size.
        size: Size,
        /// Sign-extend (ISA v4 MEMSX) rather than zero-extend.
        signed: bool,
        /// Destination.
        dst: Reg,
        /// Address register.
        base: Reg,
        /// Signed byte offset.
        off: i16,
    },
    /// `*(size *)(base + off) = src` (`ST` with an immediate, `STX` with a register).
    Store {
        /// Access size.
        size: Size,
        /// Address register (the instruction's dst field).
        base: Reg,
        /// Signed byte offset.
        off: i16,
        /// Value stored.
        src: Operand,
    },
    /// Atomic read-modify-write on 4 or 8 bytes at `base + off`.
    Atomic {
        /// Operation.
        op: AtomicOp,
        /// `W` or `DW`.
        size: Size,
        /// Address register.
        base: Reg,
        /// Signed byte offset.
        off: i16,
        /// Operand register (receives the old value for fetching forms).
        src: Reg,
    },
    /// `dst = imm64` in its various pseudo forms; occupies two slots.
    LdImm64 {
        /// Destination.
        dst: Reg,
        /// What is loaded.
        imm: Imm64,
    },
    /// Legacy packet access `LD_ABS` / `LD_IND` (decoded so it can be reported; not supported).
    LdPacket {
        /// Access size.
        size: Size,
        /// `Some(reg)` for `LD_IND`.
        index: Option<Reg>,
        /// Constant offset.
        imm: i32,
    },
    /// Unconditional jump; `long` is the ISA v4 `gotol` (JMP32 class, offset in imm).
    Ja {
        /// Target slot.
        target: Pc,
        /// Encoded as `gotol`.
        long: bool,
    },
    /// `if lhs COND rhs goto target`.
    Jcond {
        /// The comparison.
        cond: Cond,
        /// 32-bit compares only the low halves (JMP32 class).
        width: Width,
        /// Left operand (the dst field).
        lhs: Reg,
        /// Right operand.
        rhs: Operand,
        /// Target slot when the condition holds.
        target: Pc,
    },
    /// A call.
    Call(CallTarget),
    /// `callx reg` (indirect call through a register; not supported by Linux).
    CallX {
        /// The register holding the target.
        reg: Reg,
    },
    /// Return r0 from the current function.
    Exit,
}

impl Insn {
    /// Number of 8-byte slots this instruction occupies.
    pub fn slots(&self) -> usize {
        match self {
            Insn::LdImm64 { .. } => 2,
            _ => 1,
        }
    }

    /// The jump target, for jumps (not calls).
    pub fn jump_target(&self) -> Option<Pc> {
        match *self {
            Insn::Ja { target, .. } | Insn::Jcond { target, .. } => Some(target),
            _ => None,
        }
    }

    /// Whether control can fall through to the next instruction.
    pub fn falls_through(&self) -> bool {
        !matches!(self, Insn::Ja { .. } | Insn::Exit)
    }
}

/// A decoded instruction together with its slot number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Located {
    /// First slot of the instruction.
    pub pc: Pc,
    /// The instruction.
    pub insn: Insn,
}

/// A decoded instruction stream with slot ↔ index lookup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Code {
    insns: Vec<Located>,
    /// For every slot, the index of the instruction starting there (`u32::MAX` for an lddw's second slot).
    slot_index: Vec<u32>,
}

impl Code {
    /// Builds the lookup tables for decoded instructions (slots must be consecutive from 0).
    pub fn new(insns: Vec<Located>) -> Code {
        let slots = insns.last().map_or(0, |l| l.pc + l.insn.slots());
        let mut slot_index = vec![u32::MAX; slots];
        for (i, l) in insns.iter().enumerate() {
            slot_index[l.pc] = i as u32;
        }
        Code { insns, slot_index }
    }

    /// The instructions in order.
    pub fn insns(&self) -> &[Located] {
        &self.insns
    }

    /// Number of instructions (an lddw counts once).
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether there are no instructions.
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }

    /// Number of 8-byte slots.
    pub fn slots(&self) -> usize {
        self.slot_index.len()
    }

    /// Index of the instruction that starts at `pc`, if one does.
    pub fn index_of(&self, pc: Pc) -> Option<usize> {
        match self.slot_index.get(pc) {
            Some(&i) if i != u32::MAX => Some(i as usize),
            _ => None,
        }
    }

    /// The instruction starting at `pc`.
    pub fn at(&self, pc: Pc) -> Option<&Insn> {
        self.index_of(pc).map(|i| &self.insns[i].insn)
    }

    /// Encodes back to bytecode.
    pub fn to_bytes(&self) -> Vec<u8> {
        encode(&self.insns)
    }
}

#[cfg(test)]
mod tests;
