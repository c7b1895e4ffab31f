//! Abstract machine state: registers, stack frames, references, and the subsumption test used to prune.
//!
//! A register is a [`Kind`] plus, for pointers, a fixed offset `off` and a variable offset `s` (a
//! [`Scalar`]); for scalars `s` is the value. `id` links registers that hold the same value (copies of a
//! nullable pointer, which a null check then narrows together; copies of a scalar, which a comparison
//! narrows together, as the kernel's `find_equal_scalars`). `ref_id` names an acquired ringbuf record.
//!
//! The stack of each frame is a vector of 8-byte slots, each with a per-byte [`ByteKind`] and, when the
//! slot holds a spilled register, its state. The kernel's rules apply: only 8-byte aligned 8-byte stores
//! spill pointers; narrower or misaligned stores turn bytes into unknown data (`Misc`) or known zero.

use super::scalar::Scalar;
use std::fmt;

/// What a register holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Never written: reading it is an error.
    NotInit,
    /// A number.
    Scalar,
    /// The program's context.
    Ctx,
    /// A pointer into the stack frame `frame` (0 = the entry function's).
    Stack {
        /// Frame depth.
        frame: u8,
    },
    /// A map, as `lddw rN, map` loads it.
    MapPtr {
        /// Map index.
        map: u32,
    },
    /// An inner map returned by a lookup in a map-in-map, NULL until checked.
    MapPtrOrNull {
        /// Inner map index.
        map: u32,
    },
    /// A pointer into a map value; `null` until a null check proves otherwise.
    MapValue {
        /// Map index.
        map: u32,
        /// May be NULL.
        null: bool,
    },
    /// A ringbuf record of `size` bytes; `null` until checked.
    Mem {
        /// Record size.
        size: u32,
        /// May be NULL.
        null: bool,
    },
    /// The address of a BPF function (a callback).
    Func {
        /// Its first slot.
        pc: u32,
    },
}

impl Kind {
    /// The kernel's name for the type, as messages print it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::NotInit => "uninitialized",
            Kind::Scalar => "scalar",
            Kind::Ctx => "ctx",
            Kind::Stack { .. } => "fp",
            Kind::MapPtr { .. } => "map_ptr",
            Kind::MapPtrOrNull { .. } => "map_ptr_or_null",
            Kind::MapValue { null: false, .. } => "map_value",
            Kind::MapValue { null: true, .. } => "map_value_or_null",
            Kind::Mem { null: false, .. } => "ringbuf_mem",
            Kind::Mem { null: true, .. } => "ringbuf_mem_or_null",
            Kind::Func { .. } => "func",
        }
    }

    /// A C programmer's description.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::NotInit => "an uninitialised register",
            Kind::Scalar => "a number (not a pointer)",
            Kind::Ctx => "the context pointer",
            Kind::Stack { .. } => "a pointer to the stack",
            Kind::MapPtr { .. } => "a map (not a pointer to its data)",
            Kind::MapPtrOrNull { .. } => "an inner map that may be NULL",
            Kind::MapValue { null: false, .. } => "a pointer to a map value",
            Kind::MapValue { null: true, .. } => "a map value pointer that may be NULL",
            Kind::Mem { null: false, .. } => "a pointer to a ringbuf record",
            Kind::Mem { null: true, .. } => "a ringbuf record pointer that may be NULL",
            Kind::Func { .. } => "a function address",
        }
    }

    /// Whether this is a pointer of any kind.
    pub fn is_ptr(self) -> bool {
        !matches!(self, Kind::NotInit | Kind::Scalar)
    }
}

/// One register's abstract value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Reg {
    /// What it holds.
    pub kind: Kind,
    /// Fixed offset of a pointer.
    pub off: i32,
    /// Value of a scalar, variable offset of a pointer.
    pub s: Scalar,
    /// Link id (0 = none).
    pub id: u32,
    /// Acquired reference id (0 = none).
    pub ref_id: u32,
}

impl Reg {
    /// An unreadable register.
    pub const NOT_INIT: Reg = Reg { kind: Kind::NotInit, off: 0, s: Scalar::UNKNOWN, id: 0, ref_id: 0 };

    /// An unknown number.
    pub fn unknown() -> Reg {
        Reg { kind: Kind::Scalar, ..Reg::NOT_INIT }
    }

    /// The number `v`.
    pub fn konst(v: u64) -> Reg {
        Reg { kind: Kind::Scalar, s: Scalar::konst(v), ..Reg::NOT_INIT }
    }

    /// A number in the set `s`.
    pub fn scalar(s: Scalar) -> Reg {
        Reg { kind: Kind::Scalar, s, ..Reg::NOT_INIT }
    }

    /// A pointer of `kind` at fixed offset `off`.
    pub fn ptr(kind: Kind, off: i32) -> Reg {
        Reg { kind, off, s: Scalar::konst(0), ..Reg::NOT_INIT }
    }

    /// Whether the value is exactly known: a constant number or a pointer with no variable part.
    pub fn const_off(&self) -> Option<i64> {
        self.s.value().map(|v| v as i64 + i64::from(self.off))
    }

    /// Whether every concrete value of `cur` is a value of `self` (for pruning).
    pub fn subsumes(&self, cur: &Reg, exact: bool) -> bool {
        if exact {
            return self.kind == cur.kind && self.off == cur.off && self.s == cur.s && self.ref_id == cur.ref_id;
        }
        match self.kind {
            Kind::NotInit => true,
            Kind::Scalar => cur.kind == Kind::Scalar && self.s.contains(&cur.s),
            _ => {
                self.kind == cur.kind
                    && self.off == cur.off
                    && self.s.contains(&cur.s)
                    && self.ref_id == cur.ref_id
                    && (self.id == 0) == (cur.id == 0)
            }
        }
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::NotInit => write!(f, "?"),
            Kind::Scalar => {
                if self.s.value().is_some() {
                    write!(f, "{}", self.s)
                } else {
                    write!(f, "scalar({})", self.s)
                }
            }
            k => {
                let mut extra = Vec::new();
                match k {
                    Kind::MapPtr { map } | Kind::MapPtrOrNull { map } | Kind::MapValue { map, .. } => {
                        extra.push(format!("map={map}"))
                    }
                    Kind::Mem { size, .. } => extra.push(format!("size={size}")),
                    Kind::Func { pc } => extra.push(format!("pc={pc}")),
                    Kind::Stack { frame } if frame > 0 => extra.push(format!("frame={frame}")),
                    _ => {}
                }
                if self.off != 0 {
                    extra.push(format!("off={}", self.off));
                }
                if self.s.value() != Some(0) {
                    extra.push(format!("var=({})", self.s));
                }
                if self.id != 0 {
                    extra.push(format!("id={}", self.id));
                }
                if self.ref_id != 0 {
                    extra.push(format!("ref_obj_id={}", self.ref_id));
                }
                write!(f, "{}({})", k.name(), extra.join(","))
            }
        }
    }
}

/// The state of one stack byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ByteKind {
    /// Never written.
    Invalid,
    /// Unknown data.
    Misc,
    /// Known zero.
    Zero,
    /// Part of a spilled register (the slot's `spill`).
    Spill,
}

/// One 8-byte stack slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Slot {
    /// Per byte, lowest address first.
    pub bytes: [ByteKind; 8],
    /// The spilled register when all bytes are `Spill`.
    pub spill: Reg,
}

impl Slot {
    /// A never-written slot.
    pub const INVALID: Slot = Slot { bytes: [ByteKind::Invalid; 8], spill: Reg::NOT_INIT };

    /// Whether the slot holds a full spilled register.
    pub fn is_spill(&self) -> bool {
        self.bytes.iter().all(|b| *b == ByteKind::Spill)
    }

    fn subsumes(&self, cur: &Slot, exact: bool) -> bool {
        if exact {
            return self == cur;
        }
        if self.is_spill() {
            if cur.is_spill() {
                return self.spill.subsumes(&cur.spill, false);
            }
            // A spilled unknown scalar accepts any initialised bytes.
            return self.spill.kind == Kind::Scalar
                && self.spill.s == Scalar::UNKNOWN
                && cur.bytes.iter().all(|b| *b != ByteKind::Invalid)
                || self.spill.kind == Kind::NotInit;
        }
        self.bytes.iter().zip(cur.bytes.iter()).all(|(o, c)| match o {
            ByteKind::Invalid => true,
            ByteKind::Misc => match c {
                ByteKind::Invalid => false,
                ByteKind::Spill => cur.spill.kind == Kind::Scalar,
                _ => true,
            },
            ByteKind::Zero => {
                *c == ByteKind::Zero || (*c == ByteKind::Spill && cur.is_spill() && cur.spill.s.value() == Some(0))
            }
            ByteKind::Spill => false,
        })
    }
}

/// What kind of function a frame runs.
// Frames are cloned as a whole with their registers; boxing the callback arguments would only add an
// allocation per callback frame.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// The entry function.
    Main,
    /// A BPF-to-BPF call; returns to `ret_pc`.
    Call {
        /// Instruction after the call.
        ret_pc: usize,
    },
    /// A callback run by helper call at `call_pc`.
    Callback {
        /// The helper call.
        call_pc: usize,
        /// The callback's first slot.
        func: usize,
        /// Argument registers r1..r5 at entry, to re-enter it.
        args: [Reg; 5],
    },
}

/// One call frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// r0..r10.
    pub regs: [Reg; 11],
    /// Slot `i` covers bytes `[-8(i+1), -8i)` from the frame pointer; grows on demand.
    pub stack: Vec<Slot>,
    /// First slot of the function running in this frame.
    pub func: usize,
    /// How it was entered.
    pub kind: FrameKind,
}

impl Frame {
    /// The slot holding byte `-off` below the frame pointer (off in 1..=512).
    pub fn slot(&self, i: usize) -> Slot {
        self.stack.get(i).copied().unwrap_or(Slot::INVALID)
    }

    /// Mutable slot `i`, growing the stack as needed.
    pub fn slot_mut(&mut self, i: usize) -> &mut Slot {
        if self.stack.len() <= i {
            self.stack.resize(i + 1, Slot::INVALID);
        }
        &mut self.stack[i]
    }
}

/// The whole abstract state at one instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    /// Call frames, innermost last.
    pub frames: Vec<Frame>,
    /// Outstanding ringbuf records: (ref id, pc of the reserve).
    pub refs: Vec<(u32, usize)>,
    /// A held spin lock: (map, offset) and the pc that took it.
    pub lock: Option<(u32, i64, usize)>,
}

impl State {
    /// The innermost frame.
    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state always has a frame")
    }

    /// The innermost frame, mutably.
    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state always has a frame")
    }

    /// Register `r` of the innermost frame.
    pub fn reg(&self, r: usize) -> &Reg {
        &self.cur().regs[r]
    }

    /// Applies `f` to every register and spilled register in every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut Reg)) {
        for fr in &mut self.frames {
            for r in &mut fr.regs {
                f(r);
            }
            for s in &mut fr.stack {
                if s.is_spill() {
                    f(&mut s.spill);
                }
            }
        }
    }

    /// Whether every concrete state described by `cur` is described by `self`, so a fully explored
    /// `self` proves `cur` safe. `exact` asks for equality (infinite-loop detection).
    pub fn subsumes(&self, cur: &State, exact: bool) -> bool {
        if self.frames.len() != cur.frames.len() || self.refs != cur.refs || self.lock != cur.lock {
            return false;
        }
        self.frames.iter().zip(cur.frames.iter()).all(|(o, c)| {
            o.func == c.func
                && o.kind == c.kind
                && o.regs.iter().zip(c.regs.iter()).all(|(a, b)| a.subsumes(b, exact))
                && (0..o.stack.len().max(c.stack.len())).all(|i| o.slot(i).subsumes(&c.slot(i), exact))
        }) && (exact || ids_compatible(self, cur))
    }
}

/// Linked registers must be linked the same way in both states, or a null check or comparison that
/// narrows one would narrow different registers: map ids of `old` to ids of `cur` one to one.
fn ids_compatible(old: &State, cur: &State) -> bool {
    let mut map: Vec<(u32, u32)> = Vec::new();
    let mut ok = true;
    let mut check = |a: &Reg, b: &Reg| {
        if a.kind == Kind::NotInit || (a.kind == Kind::Scalar && a.id == 0) {
            return;
        }
        if a.id == 0 {
            return;
        }
        match map.iter().find(|(x, _)| *x == a.id) {
            Some(&(_, y)) => ok &= y == b.id,
            None => {
                ok &= b.id != 0 && !map.iter().any(|(_, y)| *y == b.id);
                map.push((a.id, b.id));
            }
        }
    };
    for (o, c) in old.frames.iter().zip(cur.frames.iter()) {
        for (a, b) in o.regs.iter().zip(c.regs.iter()) {
            check(a, b);
        }
        for i in 0..o.stack.len() {
            let (so, sc) = (o.slot(i), c.slot(i));
            if so.is_spill() && sc.is_spill() {
                check(&so.spill, &sc.spill);
            }
        }
    }
    ok
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (d, fr) in self.frames.iter().enumerate() {
            if self.frames.len() > 1 {
                write!(f, "frame{d}: ")?;
            }
            let mut first = true;
            for (i, r) in fr.regs.iter().enumerate() {
                if r.kind == Kind::NotInit {
                    continue;
                }
                if !first {
                    write!(f, " ")?;
                }
                first = false;
                write!(f, "R{i}={r}")?;
            }
            for (i, s) in fr.stack.iter().enumerate() {
                if s.bytes.iter().all(|b| *b == ByteKind::Invalid) {
                    continue;
                }
                let off = -8 * (i as i64 + 1);
                if s.is_spill() {
                    write!(f, " fp{off}={}", s.spill)?;
                } else {
                    let m: String = s
                        .bytes
                        .iter()
                        .rev()
                        .map(|b| match b {
                            ByteKind::Invalid => '?',
                            ByteKind::Misc => 'm',
                            ByteKind::Zero => '0',
                            ByteKind::Spill => 'r',
                        })
                        .collect();
                    write!(f, " fp{off}={m}")?;
                }
            }
            if d + 1 < self.frames.len() {
                writeln!(f)?;
            }
        }
        Ok(())
    }
}
