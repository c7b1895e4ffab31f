//! Function and basic-block structure of decoded code, shared by every engine.
//!
//! A program is its entry function (slot 0) followed by subprograms; every target of a local call or a
//! function reference (`lddw src=4`) starts a function, and a function runs up to the next one, as in the
//! kernel's `check_subprogs`. Jumps may not leave their function and no function may fall into the next.
//!
//! Basic blocks matter beyond the lowering: the instruction budget is charged per block on entry
//! (see [`Cfg::block_len`]), so the interpreter and checked native code stop at exactly the same place.

use super::*;

/// A structural error in otherwise decodable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CfgError {
    /// A jump from one function into another.
    #[error("insn #{at}: jump to #{target} leaves function starting at #{function}")]
    JumpOutOfFunction {
        /// Slot of the jump.
        at: Pc,
        /// Its target.
        target: Pc,
        /// First slot of the function containing the jump.
        function: Pc,
    },
    /// The last instruction of a function can fall through into the next function.
    #[error("insn #{at}: function starting at #{function} does not end with exit or an unconditional jump")]
    FallsIntoNextFunction {
        /// Slot of the last instruction.
        at: Pc,
        /// First slot of the function.
        function: Pc,
    },
}

/// One BPF function: a contiguous range of instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    /// First slot.
    pub start: Pc,
    /// One past the last slot.
    pub end: Pc,
    /// Index of the first instruction in `Code::insns`.
    pub first: usize,
    /// One past the index of the last instruction.
    pub last: usize,
}

/// Functions and basic blocks of a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cfg {
    functions: Vec<Function>,
    /// Per instruction index: number of instructions in the block it leads, 0 if it is not a leader.
    block_len: Vec<u32>,
}

impl Cfg {
    /// Splits `code` into functions and basic blocks and checks the function structure.
    pub fn new(code: &Code) -> Result<Cfg, CfgError> {
        let mut starts = vec![false; code.len()];
        if !starts.is_empty() {
            starts[0] = true;
        }
        for l in code.insns() {
            let target = match l.insn {
                Insn::Call(CallTarget::Local(t)) => t,
                Insn::LdImm64 { imm: Imm64::Func(t), .. } => t,
                _ => continue,
            };
            if let Some(i) = code.index_of(target) {
                starts[i] = true;
            }
        }
        let mut functions = Vec::new();
        let mut first = 0;
        for (i, &start) in starts.iter().enumerate().skip(1).chain(std::iter::once((code.len(), &true))) {
            if start {
                let last_insn = &code.insns()[i - 1];
                functions.push(Function {
                    start: code.insns()[first].pc,
                    end: last_insn.pc + last_insn.insn.slots(),
                    first,
                    last: i,
                });
                first = i;
            }
        }
        let mut leader = vec![false; code.len()];
        for f in &functions {
            leader[f.first] = true;
            for i in f.first..f.last {
                let l = &code.insns()[i];
                if let Some(target) = l.insn.jump_target() {
                    if target < f.start || target >= f.end {
                        return Err(CfgError::JumpOutOfFunction { at: l.pc, target, function: f.start });
                    }
                    leader[code.index_of(target).expect("decode checked targets")] = true;
                    if i + 1 < f.last {
                        leader[i + 1] = true;
                    }
                } else if matches!(l.insn, Insn::Exit) && i + 1 < f.last {
                    leader[i + 1] = true;
                }
            }
            let last = &code.insns()[f.last - 1];
            if last.insn.falls_through() {
                return Err(CfgError::FallsIntoNextFunction { at: last.pc, function: f.start });
            }
        }
        let mut block_len = vec![0u32; code.len()];
        let mut i = 0;
        while i < code.len() {
            let mut j = i + 1;
            while j < code.len() && !leader[j] {
                j += 1;
            }
            block_len[i] = (j - i) as u32;
            i = j;
        }
        Ok(Cfg { functions, block_len })
    }

    /// The functions in slot order; the first is the entry.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The function whose first slot is `pc`.
    pub fn function_at(&self, pc: Pc) -> Option<&Function> {
        self.functions.iter().find(|f| f.start == pc)
    }

    /// For the instruction with index `i`: the number of instructions in the basic block it starts, or
    /// `None` when it does not start one. Leaders are function starts, jump targets, and instructions
    /// after a jump or exit. Calls do not end blocks.
    pub fn block_len(&self, i: usize) -> Option<u32> {
        match self.block_len.get(i) {
            Some(&n) if n > 0 => Some(n),
            _ => None,
        }
    }
}
