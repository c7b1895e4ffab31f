//! An assembler for the uBPF / bpf_conformance assembly dialect (`mov %r0, 1`, `ldxw %r1, [%r2+4]`,
//! `jeq %r1, 0, label`), the format of the conformance suite's `-- asm` sections.
//!
//! Two passes: the first assigns slots to instructions and records labels (an `lddw` takes two slots;
//! the label `exit` is implicitly the first `exit` instruction, as upstream defines it), the second
//! builds typed [`Insn`]s with absolute targets and hands them to the encoder — so the assembler never
//! writes opcode bits itself.

use super::*;
use std::collections::HashMap;

/// An assembly error with its 1-based line number within the assembled text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct AsmError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

struct Line<'a> {
    number: usize,
    mnemonic: &'a str,
    operands: Vec<&'a str>,
}

/// Assembles `text` into little-endian bytecode.
pub fn assemble(text: &str) -> Result<Vec<u8>, AsmError> {
    let mut lines = Vec::new();
    let mut labels: HashMap<&str, Pc> = HashMap::new();
    let mut pc = 0;
    let mut first_exit = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(label) = line.strip_suffix(':')
            && !label.contains(char::is_whitespace)
        {
            labels.insert(label, pc);
            continue;
        }
        let mut tokens = line.split_whitespace().map(|t| t.strip_suffix(',').unwrap_or(t));
        let mnemonic = tokens.next().unwrap_or_default();
        let operands: Vec<&str> = tokens.filter(|t| !t.is_empty()).collect();
        if mnemonic == "exit" && first_exit.is_none() {
            first_exit = Some(pc);
        }
        pc += if mnemonic == "lddw" { 2 } else { 1 };
        lines.push(Line { number: i + 1, mnemonic, operands });
    }
    if let Some(exit) = first_exit {
        labels.entry("exit").or_insert(exit);
    }
    let mut insns = Vec::with_capacity(lines.len());
    let mut pc = 0;
    for line in &lines {
        let insn = assemble_line(line, pc, &labels).map_err(|message| AsmError { line: line.number, message })?;
        insns.push(Located { pc, insn });
        pc += insn.slots();
    }
    Ok(encode(&insns))
}

fn reg(tok: &str) -> Result<Reg, String> {
    tok.strip_prefix("%r")
        .and_then(|n| n.parse::<u8>().ok())
        .and_then(Reg::new)
        .ok_or_else(|| format!("expected a register %r0..%r10, found `{tok}`"))
}

fn parse_int(tok: &str) -> Option<i128> {
    let (neg, body) = match tok.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, tok.strip_prefix('+').unwrap_or(tok)),
    };
    let v = if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i128::from_str_radix(hex, 16).ok()?
    } else {
        body.parse::<i128>().ok()?
    };
    Some(if neg { -v } else { v })
}

/// A 32-bit immediate: decimal must fit i32, `0x` hex must fit u32 (kept as its bit pattern).
fn imm32(tok: &str) -> Result<i32, String> {
    let v = parse_int(tok).ok_or_else(|| format!("expected an immediate, found `{tok}`"))?;
    let hex = tok.trim_start_matches(['-', '+']).starts_with("0x");
    if (i128::from(i32::MIN)..=i128::from(i32::MAX)).contains(&v) {
        Ok(v as i32)
    } else if hex && (0..=i128::from(u32::MAX)).contains(&v) {
        Ok(v as u32 as i32)
    } else {
        Err(format!("immediate `{tok}` does not fit in 32 bits"))
    }
}

fn imm64(tok: &str) -> Result<u64, String> {
    let v = parse_int(tok).ok_or_else(|| format!("expected an immediate, found `{tok}`"))?;
    if (i128::from(i64::MIN)..=i128::from(u64::MAX)).contains(&v) {
        Ok(v as u64)
    } else {
        Err(format!("immediate `{tok}` does not fit in 64 bits"))
    }
}

fn operand(tok: &str) -> Result<Operand, String> {
    if tok.starts_with('%') { Ok(Operand::Reg(reg(tok)?)) } else { Ok(Operand::Imm(imm32(tok)?)) }
}

/// `[%rN]`, `[%rN+off]`, `[%rN-off]`.
fn mem(tok: &str) -> Result<(Reg, i16), String> {
    let inner = tok
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .ok_or_else(|| format!("expected a memory operand [%rN+off], found `{tok}`"))?;
    let split = inner.find(['+', '-']);
    let (r, off) = match split {
        Some(i) => (&inner[..i], &inner[i..]),
        None => (inner, "0"),
    };
    let off = parse_int(off)
        .and_then(|v| i16::try_from(v).ok())
        .ok_or_else(|| format!("memory offset in `{tok}` does not fit in 16 bits"))?;
    Ok((reg(r.trim())?, off))
}

fn target(tok: &str, pc: Pc, labels: &HashMap<&str, Pc>) -> Result<Pc, String> {
    if let Some(&t) = labels.get(tok) {
        return Ok(t);
    }
    let rel = parse_int(tok).ok_or_else(|| format!("unknown label `{tok}`"))?;
    let t = pc as i128 + 1 + rel;
    usize::try_from(t).map_err(|_| format!("jump target `{tok}` is before the program start"))
}

fn count(ops: &[&str], n: usize, mnemonic: &str) -> Result<(), String> {
    if ops.len() != n {
        return Err(format!("`{mnemonic}` takes {n} operand(s), found {}", ops.len()));
    }
    Ok(())
}

/// Splits a `32`/`64` width suffix off a mnemonic.
fn width_suffix(m: &str) -> (&str, Width) {
    if let Some(b) = m.strip_suffix("32") {
        (b, Width::W32)
    } else if let Some(b) = m.strip_suffix("64") {
        (b, Width::W64)
    } else {
        (m, Width::W64)
    }
}

fn size_suffix(s: &str) -> Option<Size> {
    match s {
        "b" => Some(Size::B),
        "h" => Some(Size::H),
        "w" => Some(Size::W),
        "dw" => Some(Size::DW),
        _ => None,
    }
}

fn assemble_line(line: &Line<'_>, pc: Pc, labels: &HashMap<&str, Pc>) -> Result<Insn, String> {
    let m = line.mnemonic;
    let ops = &line.operands[..];
    let alu = |op| -> Option<AluOp> {
        Some(match op {
            "add" => AluOp::Add,
            "sub" => AluOp::Sub,
            "mul" => AluOp::Mul,
            "div" => AluOp::Div,
            "sdiv" => AluOp::SDiv,
            "or" => AluOp::Or,
            "and" => AluOp::And,
            "lsh" => AluOp::Lsh,
            "rsh" => AluOp::Rsh,
            "mod" => AluOp::Mod,
            "smod" => AluOp::SMod,
            "xor" => AluOp::Xor,
            "mov" => AluOp::Mov,
            "arsh" => AluOp::Arsh,
            _ => return None,
        })
    };
    let cond = |c| -> Option<Cond> {
        Some(match c {
            "jeq" => Cond::Eq,
            "jgt" => Cond::Gt,
            "jge" => Cond::Ge,
            "jset" => Cond::Set,
            "jne" => Cond::Ne,
            "jsgt" => Cond::SGt,
            "jsge" => Cond::SGe,
            "jlt" => Cond::Lt,
            "jle" => Cond::Le,
            "jslt" => Cond::SLt,
            "jsle" => Cond::SLe,
            _ => return None,
        })
    };
    let (base, width) = width_suffix(m);
    if let Some(op) = alu(base) {
        count(ops, 2, m)?;
        return Ok(Insn::Alu { op, width, dst: reg(ops[0])?, src: operand(ops[1])? });
    }
    if base == "neg" {
        count(ops, 1, m)?;
        return Ok(Insn::Neg { width, dst: reg(ops[0])? });
    }
    if let Some(c) = cond(base) {
        count(ops, 3, m)?;
        return Ok(Insn::Jcond {
            cond: c,
            width,
            lhs: reg(ops[0])?,
            rhs: operand(ops[1])?,
            target: target(ops[2], pc, labels)?,
        });
    }
    if let Some(rest) = m.strip_prefix("movsx") {
        let (from, width) = match rest {
            "832" => (8, Width::W32),
            "1632" => (16, Width::W32),
            "864" => (8, Width::W64),
            "1664" => (16, Width::W64),
            "3264" => (32, Width::W64),
            _ => return Err(format!("unknown mnemonic `{m}`")),
        };
        count(ops, 2, m)?;
        return Ok(Insn::MovSx { width, dst: reg(ops[0])?, src: reg(ops[1])?, from });
    }
    for (prefix, order) in
        [("le", ByteOrder::ToLe), ("be", ByteOrder::ToBe), ("bswap", ByteOrder::Swap), ("swap", ByteOrder::Swap)]
    {
        if let Some(bits) = m.strip_prefix(prefix).and_then(|b| b.parse::<u8>().ok())
            && matches!(bits, 16 | 32 | 64)
        {
            count(ops, 1, m)?;
            return Ok(Insn::Endian { order, bits, dst: reg(ops[0])? });
        }
    }
    if let Some(rest) = m.strip_prefix("ldx") {
        let (signed, sz) = match rest.strip_prefix('s') {
            Some(s) if size_suffix(s).is_some() => (true, s),
            _ => (false, rest),
        };
        let size = size_suffix(sz).ok_or_else(|| format!("unknown mnemonic `{m}`"))?;
        count(ops, 2, m)?;
        let (base, off) = mem(ops[1])?;
        return Ok(Insn::Load { size, signed, dst: reg(ops[0])?, base, off });
    }
    if let Some(rest) = m.strip_prefix("stx") {
        let size = size_suffix(rest).ok_or_else(|| format!("unknown mnemonic `{m}`"))?;
        count(ops, 2, m)?;
        let (base, off) = mem(ops[0])?;
        return Ok(Insn::Store { size, base, off, src: Operand::Reg(reg(ops[1])?) });
    }
    if let Some(size) = m.strip_prefix("st").and_then(size_suffix) {
        count(ops, 2, m)?;
        let (base, off) = mem(ops[0])?;
        return Ok(Insn::Store { size, base, off, src: Operand::Imm(imm32(ops[1])?) });
    }
    match m {
        "lddw" => {
            count(ops, 2, m)?;
            Ok(Insn::LdImm64 { dst: reg(ops[0])?, imm: Imm64::Value(imm64(ops[1])?) })
        }
        "lock" => assemble_lock(ops),
        "ja" | "ja32" => {
            count(ops, 1, m)?;
            Ok(Insn::Ja { target: target(ops[0], pc, labels)?, long: m == "ja32" })
        }
        "call" => match ops {
            ["local", label] => Ok(Insn::Call(CallTarget::Local(target(label, pc, labels)?))),
            ["helper", n] => Ok(Insn::Call(CallTarget::Helper(imm32(n)?))),
            ["runtime", n] => Ok(Insn::Call(CallTarget::Kfunc { btf_id: imm32(n)?, off: 0 })),
            [r] if r.starts_with('%') => Ok(Insn::CallX { reg: reg(r)? }),
            [n] => Ok(Insn::Call(CallTarget::Helper(imm32(n)?))),
            _ => Err("`call` takes `N`, `local LABEL` or `%rN`".to_string()),
        },
        "exit" => {
            count(ops, 0, m)?;
            Ok(Insn::Exit)
        }
        _ => Err(format!("unknown mnemonic `{m}`")),
    }
}

fn assemble_lock(ops: &[&str]) -> Result<Insn, String> {
    let (fetch, rest) = match ops.first() {
        Some(&"fetch") => (true, &ops[1..]),
        _ => (false, ops),
    };
    let [name, addr, src] = rest else {
        return Err("`lock` takes `[fetch] OP [%rN+off], %rM`".to_string());
    };
    let (base, width) = width_suffix(name);
    let size = if width == Width::W32 { Size::W } else { Size::DW };
    let op = match base {
        "add" => AtomicOp::Add { fetch },
        "or" => AtomicOp::Or { fetch },
        "and" => AtomicOp::And { fetch },
        "xor" => AtomicOp::Xor { fetch },
        "xchg" => AtomicOp::Xchg,
        "cmpxchg" => AtomicOp::CmpXchg,
        _ => return Err(format!("unknown atomic operation `{name}`")),
    };
    let (base, off) = mem(addr)?;
    Ok(Insn::Atomic { op, size, base, off, src: reg(src)? })
}
