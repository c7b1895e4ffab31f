//! The scalar domain: a tnum plus signed and unsigned intervals on 64 bits and on the low 32 bits, as
//! the kernel's `bpf_reg_state` keeps them, with [`Scalar::sync`] playing `reg_bounds_sync`: each view
//! tightens the others until nothing changes (two rounds suffice for these rules).
//!
//! Transfer functions are conservative: a result interval always contains every concrete result.
//! 32-bit ALU operations are computed on the zero-extended low halves with 64-bit arithmetic and then
//! truncated ([`Scalar::zext32`]), which keeps intervals exact whenever the 32-bit result does not wrap.

use super::tnum::Tnum;
use bpfc_runtime::isa::{AluOp, ByteOrder, Cond, Width};
use std::fmt;

/// A set of 64-bit values.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scalar {
    /// Known bits.
    pub var: Tnum,
    /// Signed 64-bit bounds.
    pub smin: i64,
    /// Signed 64-bit bounds.
    pub smax: i64,
    /// Unsigned 64-bit bounds.
    pub umin: u64,
    /// Unsigned 64-bit bounds.
    pub umax: u64,
    /// Signed bounds of the low 32 bits.
    pub s32min: i32,
    /// Signed bounds of the low 32 bits.
    pub s32max: i32,
    /// Unsigned bounds of the low 32 bits.
    pub u32min: u32,
    /// Unsigned bounds of the low 32 bits.
    pub u32max: u32,
}

impl fmt::Debug for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(c) = self.value() {
            return write!(f, "{}", c as i64);
        }
        let mut parts = Vec::new();
        if self.smin != i64::MIN {
            parts.push(format!("smin={}", self.smin));
        }
        if self.smax != i64::MAX {
            parts.push(format!("smax={}", self.smax));
        }
        if self.umin != 0 {
            parts.push(format!("umin={}", self.umin));
        }
        if self.umax != u64::MAX {
            parts.push(format!("umax={}", self.umax));
        }
        if self.s32min != i32::MIN {
            parts.push(format!("smin32={}", self.s32min));
        }
        if self.s32max != i32::MAX {
            parts.push(format!("smax32={}", self.s32max));
        }
        if self.u32min != 0 {
            parts.push(format!("umin32={}", self.u32min));
        }
        if self.u32max != u32::MAX {
            parts.push(format!("umax32={}", self.u32max));
        }
        if self.var.mask != u64::MAX {
            parts.push(format!("var_off=({:#x}; {:#x})", self.var.value, self.var.mask));
        }
        write!(f, "{}", parts.join(","))
    }
}

/// A comparison outcome to refine by: `a REL b` holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rel {
    Eq,
    Ne,
    Lt,
    Le,
    SLt,
    SLe,
    Set,
    NotSet,
}

impl Scalar {
    /// Any value.
    pub const UNKNOWN: Scalar = Scalar {
        var: Tnum::UNKNOWN,
        smin: i64::MIN,
        smax: i64::MAX,
        umin: 0,
        umax: u64::MAX,
        s32min: i32::MIN,
        s32max: i32::MAX,
        u32min: 0,
        u32max: u32::MAX,
    };

    /// Exactly `v`.
    pub fn konst(v: u64) -> Scalar {
        Scalar {
            var: Tnum::konst(v),
            smin: v as i64,
            smax: v as i64,
            umin: v,
            umax: v,
            s32min: v as i32,
            s32max: v as i32,
            u32min: v as u32,
            u32max: v as u32,
        }
    }

    /// Values in `[lo, hi]` (unsigned).
    pub fn urange(lo: u64, hi: u64) -> Scalar {
        let mut s = Scalar { umin: lo, umax: hi, ..Scalar::UNKNOWN };
        s.sync();
        s
    }

    /// Values in `[lo, hi]` (signed).
    pub fn srange(lo: i64, hi: i64) -> Scalar {
        let mut s = Scalar { smin: lo, smax: hi, ..Scalar::UNKNOWN };
        s.sync();
        s
    }

    /// Values described by `var` only.
    pub fn from_tnum(var: Tnum) -> Scalar {
        let mut s = Scalar { var, ..Scalar::UNKNOWN };
        s.sync();
        s
    }

    /// The single value, if known.
    pub fn value(&self) -> Option<u64> {
        self.var.is_const().then_some(self.var.value)
    }

    /// Whether every value of `o` is a value of `self`.
    pub fn contains(&self, o: &Scalar) -> bool {
        self.var.contains(o.var)
            && self.smin <= o.smin
            && o.smax <= self.smax
            && self.umin <= o.umin
            && o.umax <= self.umax
            && self.s32min <= o.s32min
            && o.s32max <= self.s32max
            && self.u32min <= o.u32min
            && o.u32max <= self.u32max
    }

    /// Smallest set containing both.
    pub fn join(&self, o: &Scalar) -> Scalar {
        let mut s = Scalar {
            var: self.var.union(o.var),
            smin: self.smin.min(o.smin),
            smax: self.smax.max(o.smax),
            umin: self.umin.min(o.umin),
            umax: self.umax.max(o.umax),
            s32min: self.s32min.min(o.s32min),
            s32max: self.s32max.max(o.s32max),
            u32min: self.u32min.min(o.u32min),
            u32max: self.u32max.max(o.u32max),
        };
        s.sync();
        s
    }

    /// Tightens every view from the others; returns false when the set is empty (an infeasible path).
    pub fn sync(&mut self) -> bool {
        for _ in 0..2 {
            // Bounds from known bits.
            let v = self.var;
            let v32 = v.subreg();
            self.umin = self.umin.max(v.value);
            self.umax = self.umax.min(v.value | v.mask);
            self.smin = self.smin.max((v.value | (v.mask & (1 << 63))) as i64);
            self.smax = self.smax.min((v.value | (v.mask & (i64::MAX as u64))) as i64);
            self.u32min = self.u32min.max(v32.value as u32);
            self.u32max = self.u32max.min((v32.value | v32.mask) as u32);
            self.s32min = self.s32min.max((v32.value | (v32.mask & 0x8000_0000)) as u32 as i32);
            self.s32max = self.s32max.min((v32.value | (v32.mask & 0x7fff_ffff)) as u32 as i32);
            // 64-bit views of one another.
            if (self.umin as i64) <= (self.umax as i64) {
                self.smin = self.smin.max(self.umin as i64);
                self.smax = self.smax.min(self.umax as i64);
            }
            if self.smin >= 0 || self.smax < 0 {
                self.umin = self.umin.max(self.smin as u64);
                self.umax = self.umax.min(self.smax as u64);
            }
            // 64 → 32: when the upper halves agree, the low halves are ordered like the whole.
            if self.umin >> 32 == self.umax >> 32 {
                self.u32min = self.u32min.max(self.umin as u32);
                self.u32max = self.u32max.min(self.umax as u32);
                if (self.umin as u32 as i32) <= (self.umax as u32 as i32) {
                    self.s32min = self.s32min.max(self.umin as u32 as i32);
                    self.s32max = self.s32max.min(self.umax as u32 as i32);
                }
            }
            if (self.smin as u64) >> 32 == (self.smax as u64) >> 32 {
                if (self.smin as u32 as i32) <= (self.smax as u32 as i32) {
                    self.s32min = self.s32min.max(self.smin as u32 as i32);
                    self.s32max = self.s32max.min(self.smax as u32 as i32);
                }
                if (self.smin as u32) <= (self.smax as u32) {
                    self.u32min = self.u32min.max(self.smin as u32);
                    self.u32max = self.u32max.min(self.smax as u32);
                }
            }
            // 32-bit views of one another.
            if (self.u32min as i32) <= (self.u32max as i32) {
                self.s32min = self.s32min.max(self.u32min as i32);
                self.s32max = self.s32max.min(self.u32max as i32);
            }
            if self.s32min >= 0 || self.s32max < 0 {
                self.u32min = self.u32min.max(self.s32min as u32);
                self.u32max = self.u32max.min(self.s32max as u32);
            }
            // 32 → 64: a value ≥ umin whose upper half equals umin's has a low half ≥ u32min.
            if self.umin <= self.umax {
                let lo = (self.umin & !0xffff_ffff) | u64::from(self.u32min);
                let hi = (self.umax & !0xffff_ffff) | u64::from(self.u32max);
                self.umin = self.umin.max(lo);
                self.umax = self.umax.min(hi);
            }
            if (self.umin as i64) <= (self.umax as i64) {
                self.smin = self.smin.max(self.umin as i64);
                self.smax = self.smax.min(self.umax as i64);
            }
            // Known bits from bounds.
            if self.umin <= self.umax {
                self.var = self.var.intersect(Tnum::range(self.umin, self.umax));
            }
            if self.u32min <= self.u32max {
                let low = self.var.subreg().intersect(Tnum::range(u64::from(self.u32min), u64::from(self.u32max)));
                self.var = self.var.with_subreg(low);
            }
        }
        self.umin <= self.umax
            && self.smin <= self.smax
            && self.u32min <= self.u32max
            && self.s32min <= self.s32max
            && self.var.umin() <= self.umax
            && self.var.umax() >= self.umin
    }

    /// The low 32 bits, zero-extended (what every 32-bit ALU result is).
    pub fn zext32(&self) -> Scalar {
        let mut s = Scalar { var: self.var.subreg(), ..Scalar::UNKNOWN };
        s.u32min = self.u32min;
        s.u32max = self.u32max;
        s.s32min = self.s32min;
        s.s32max = self.s32max;
        s.umin = u64::from(self.u32min);
        s.umax = u64::from(self.u32max);
        s.sync();
        s
    }

    /// The low `bytes` bytes, zero-extended.
    pub fn truncate(&self, bytes: u32) -> Scalar {
        match bytes {
            0 => Scalar::konst(0),
            4 => self.zext32(),
            8.. => *self,
            _ => {
                let max = (1u64 << (bytes * 8)) - 1;
                if self.umax <= max {
                    return *self;
                }
                let mut s = Scalar { var: self.var.cast(bytes), ..Scalar::UNKNOWN };
                s.umax = max;
                s.sync();
                s
            }
        }
    }

    /// Sign-extension of the low `bits` bits to 64 bits.
    pub fn sign_extend(&self, bits: u32) -> Scalar {
        if bits >= 64 {
            return *self;
        }
        if let Some(c) = self.value() {
            let sh = 64 - bits;
            return Scalar::konst((((c << sh) as i64) >> sh) as u64);
        }
        let half = 1u64 << (bits - 1);
        if self.umax < half {
            return *self;
        }
        Scalar::srange(-(half as i64), half as i64 - 1)
    }

    /// `self OP src` at `width`; shifts by out-of-range constants were rejected before.
    pub fn alu(&self, op: AluOp, width: Width, src: &Scalar) -> Scalar {
        match width {
            Width::W64 => self.alu64(op, src),
            Width::W32 => {
                let (a, b) = (self.zext32(), src.zext32());
                match op {
                    AluOp::Arsh => match b.value() {
                        Some(s) => {
                            let s = (s & 31) as u32;
                            let mut r = Scalar::from_tnum(a.var.arshift(s, 32));
                            r.s32min = self.s32min >> s;
                            r.s32max = self.s32max >> s;
                            r.sync();
                            r.zext32()
                        }
                        None => Scalar::UNKNOWN.zext32(),
                    },
                    AluOp::Lsh | AluOp::Rsh => match b.value() {
                        Some(s) => a.alu64(op, &Scalar::konst(s & 31)).zext32(),
                        None => Scalar::UNKNOWN.zext32(),
                    },
                    AluOp::SDiv | AluOp::SMod => Scalar::UNKNOWN.zext32(),
                    _ => a.alu64(op, &b).zext32(),
                }
            }
        }
    }

    fn alu64(&self, op: AluOp, b: &Scalar) -> Scalar {
        let a = self;
        if let (Some(x), Some(y)) = (a.value(), b.value()) {
            return Scalar::konst(eval64(op, x, y));
        }
        let mut r = Scalar::UNKNOWN;
        match op {
            AluOp::Mov => return *b,
            AluOp::Add => {
                r.var = a.var.add(b.var);
                if let (Some(lo), Some(hi)) = (a.smin.checked_add(b.smin), a.smax.checked_add(b.smax)) {
                    r.smin = lo;
                    r.smax = hi;
                }
                if let (Some(lo), Some(hi)) = (a.umin.checked_add(b.umin), a.umax.checked_add(b.umax)) {
                    r.umin = lo;
                    r.umax = hi;
                }
            }
            AluOp::Sub => {
                r.var = a.var.sub(b.var);
                if let (Some(lo), Some(hi)) = (a.smin.checked_sub(b.smax), a.smax.checked_sub(b.smin)) {
                    r.smin = lo;
                    r.smax = hi;
                }
                if a.umin >= b.umax {
                    r.umin = a.umin - b.umax;
                    r.umax = a.umax - b.umin;
                }
            }
            AluOp::Mul => {
                r.var = a.var.mul(b.var);
                if let Some(hi) = a.umax.checked_mul(b.umax) {
                    r.umin = a.umin * b.umin;
                    r.umax = hi;
                }
            }
            AluOp::And => {
                r.var = a.var.and(b.var);
                r.umax = a.umax.min(b.umax);
                if a.smin >= 0 || b.smin >= 0 {
                    r.smin = 0;
                    r.smax = r.umax.min(i64::MAX as u64) as i64;
                }
            }
            AluOp::Or => {
                r.var = a.var.or(b.var);
                r.umin = a.umin.max(b.umin);
            }
            AluOp::Xor => r.var = a.var.xor(b.var),
            AluOp::Lsh => {
                if let Some(s) = b.value() {
                    let s = (s & 63) as u32;
                    r.var = a.var.lshift(s);
                    if a.umax.leading_zeros() >= s {
                        r.umin = a.umin << s;
                        r.umax = a.umax << s;
                    }
                }
            }
            AluOp::Rsh => {
                if let Some(s) = b.value() {
                    let s = (s & 63) as u32;
                    r.var = a.var.rshift(s);
                    r.umin = a.umin >> s;
                    r.umax = a.umax >> s;
                } else {
                    r.umax = a.umax;
                }
            }
            AluOp::Arsh => {
                if let Some(s) = b.value() {
                    let s = (s & 63) as u32;
                    r.var = a.var.arshift(s, 64);
                    r.smin = a.smin >> s;
                    r.smax = a.smax >> s;
                }
            }
            AluOp::Div => match b.value() {
                Some(0) => return Scalar::konst(0),
                Some(c) => {
                    r.umin = a.umin / c;
                    r.umax = a.umax / c;
                }
                // Division by zero gives 0, any other divisor shrinks.
                None => r.umax = a.umax,
            },
            AluOp::Mod => match b.value() {
                Some(0) => return *a,
                Some(c) => r.umax = a.umax.min(c - 1),
                // Modulo by zero keeps the dividend; otherwise the result is below both.
                None => r.umax = a.umax,
            },
            AluOp::SDiv | AluOp::SMod => {}
        }
        r.sync();
        r
    }

    /// `-self` at `width`.
    pub fn neg(&self, width: Width) -> Scalar {
        Scalar::konst(0).alu(AluOp::Sub, width, self)
    }

    /// A byte-order conversion of the low `bits`.
    pub fn endian(&self, order: ByteOrder, bits: u8) -> Scalar {
        let bytes = u32::from(bits) / 8;
        let swap = match order {
            ByteOrder::ToLe => false,
            ByteOrder::ToBe | ByteOrder::Swap => true,
        };
        if !swap {
            return self.truncate(bytes);
        }
        match self.value() {
            Some(c) => Scalar::konst(match bits {
                16 => u64::from((c as u16).swap_bytes()),
                32 => u64::from((c as u32).swap_bytes()),
                _ => c.swap_bytes(),
            }),
            None => Scalar::UNKNOWN.truncate(bytes),
        }
    }

    /// The outcome of `self COND other` if it is the same for every pair of values.
    pub fn branch_taken(&self, cond: Cond, width: Width, other: &Scalar) -> Option<bool> {
        let (a, b) = match width {
            Width::W64 => (*self, *other),
            Width::W32 => (self.zext32(), other.zext32()),
        };
        let (sa_min, sa_max, sb_min, sb_max) = match width {
            Width::W64 => (a.smin, a.smax, b.smin, b.smax),
            Width::W32 => {
                (i64::from(self.s32min), i64::from(self.s32max), i64::from(other.s32min), i64::from(other.s32max))
            }
        };
        let disjoint = a.umin > b.umax
            || b.umin > a.umax
            || sa_min > sb_max
            || sb_min > sa_max
            || (a.var.value ^ b.var.value) & !(a.var.mask | b.var.mask) != 0;
        match cond {
            Cond::Eq | Cond::Ne => {
                let eq = if let (Some(x), Some(y)) = (a.value(), b.value()) {
                    Some(x == y)
                } else if disjoint {
                    Some(false)
                } else {
                    None
                };
                eq.map(|e| e == (cond == Cond::Eq))
            }
            Cond::Set => {
                if a.var.value & b.var.value != 0 {
                    Some(true)
                } else if a.var.umax() & b.var.umax() == 0 {
                    Some(false)
                } else {
                    None
                }
            }
            Cond::Gt => cmp(a.umin > b.umax, a.umax <= b.umin),
            Cond::Ge => cmp(a.umin >= b.umax, a.umax < b.umin),
            Cond::Lt => cmp(a.umax < b.umin, a.umin >= b.umax),
            Cond::Le => cmp(a.umax <= b.umin, a.umin > b.umax),
            Cond::SGt => cmp(sa_min > sb_max, sa_max <= sb_min),
            Cond::SGe => cmp(sa_min >= sb_max, sa_max < sb_min),
            Cond::SLt => cmp(sa_max < sb_min, sa_min >= sb_max),
            Cond::SLe => cmp(sa_max <= sb_min, sa_min > sb_max),
        }
    }

    /// Narrows `a` and `b` to the values for which `a COND b` is `taken`; false when no values remain.
    pub fn refine(a: &mut Scalar, b: &mut Scalar, cond: Cond, width: Width, taken: bool) -> bool {
        use Rel::*;
        // Express the outcome as `x REL y` with (x, y) = (a, b) or swapped.
        let (rel, swap) = match (cond, taken) {
            (Cond::Eq, true) | (Cond::Ne, false) => (Eq, false),
            (Cond::Eq, false) | (Cond::Ne, true) => (Ne, false),
            (Cond::Lt, true) | (Cond::Ge, false) => (Lt, false),
            (Cond::Le, true) | (Cond::Gt, false) => (Le, false),
            (Cond::Gt, true) | (Cond::Le, false) => (Lt, true),
            (Cond::Ge, true) | (Cond::Lt, false) => (Le, true),
            (Cond::SLt, true) | (Cond::SGe, false) => (SLt, false),
            (Cond::SLe, true) | (Cond::SGt, false) => (SLe, false),
            (Cond::SGt, true) | (Cond::SLe, false) => (SLt, true),
            (Cond::SGe, true) | (Cond::SLt, false) => (SLe, true),
            (Cond::Set, true) => (Set, false),
            (Cond::Set, false) => (NotSet, false),
        };
        let (x, y) = if swap { (b, a) } else { (a, b) };
        match width {
            Width::W64 => refine64(x, y, rel),
            Width::W32 => refine32(x, y, rel),
        }
        let ok_x = x.sync();
        let ok_y = y.sync();
        ok_x && ok_y
    }
}

fn cmp(always: bool, never: bool) -> Option<bool> {
    if always {
        Some(true)
    } else if never {
        Some(false)
    } else {
        None
    }
}

fn refine64(x: &mut Scalar, y: &mut Scalar, rel: Rel) {
    match rel {
        Rel::Eq => {
            let m = Scalar {
                var: x.var.intersect(y.var),
                smin: x.smin.max(y.smin),
                smax: x.smax.min(y.smax),
                umin: x.umin.max(y.umin),
                umax: x.umax.min(y.umax),
                s32min: x.s32min.max(y.s32min),
                s32max: x.s32max.min(y.s32max),
                u32min: x.u32min.max(y.u32min),
                u32max: x.u32max.min(y.u32max),
            };
            *x = m;
            *y = m;
        }
        Rel::Ne => {
            let (cx, cy) = (*x, *y);
            for (p, q) in [(&mut *x, cy), (&mut *y, cx)] {
                if let Some(c) = q.value() {
                    if p.umin == c {
                        p.umin = p.umin.saturating_add(1);
                    }
                    if p.umax == c {
                        p.umax = p.umax.wrapping_sub(1);
                    }
                    if p.smin == c as i64 {
                        p.smin = p.smin.saturating_add(1);
                    }
                    if p.smax == c as i64 {
                        p.smax = p.smax.wrapping_sub(1);
                    }
                }
            }
        }
        Rel::Lt => {
            x.umax = x.umax.min(y.umax.wrapping_sub(1));
            y.umin = y.umin.max(x.umin.saturating_add(1));
            if y.umax == 0 {
                x.umin = 1;
                x.umax = 0;
            }
        }
        Rel::Le => {
            x.umax = x.umax.min(y.umax);
            y.umin = y.umin.max(x.umin);
        }
        Rel::SLt => {
            if y.smax == i64::MIN {
                x.smin = 1;
                x.smax = 0;
            } else {
                x.smax = x.smax.min(y.smax - 1);
            }
            y.smin = y.smin.max(x.smin.saturating_add(1));
        }
        Rel::SLe => {
            x.smax = x.smax.min(y.smax);
            y.smin = y.smin.max(x.smin);
        }
        Rel::Set => {}
        Rel::NotSet => {
            if let Some(c) = y.value() {
                x.var = x.var.and(Tnum::konst(!c));
            }
        }
    }
}

fn refine32(x: &mut Scalar, y: &mut Scalar, rel: Rel) {
    match rel {
        Rel::Eq => {
            let lo = x.var.subreg().intersect(y.var.subreg());
            x.var = x.var.with_subreg(lo);
            y.var = y.var.with_subreg(lo);
            let (umin, umax) = (x.u32min.max(y.u32min), x.u32max.min(y.u32max));
            let (smin, smax) = (x.s32min.max(y.s32min), x.s32max.min(y.s32max));
            for p in [&mut *x, &mut *y] {
                p.u32min = umin;
                p.u32max = umax;
                p.s32min = smin;
                p.s32max = smax;
            }
        }
        Rel::Ne => {
            let (cx, cy) = (*x, *y);
            for (p, q) in [(&mut *x, cy), (&mut *y, cx)] {
                if let Some(c) = q.zext32().value() {
                    let c = c as u32;
                    if p.u32min == c {
                        p.u32min = p.u32min.saturating_add(1);
                    }
                    if p.u32max == c {
                        p.u32max = p.u32max.wrapping_sub(1);
                    }
                    if p.s32min == c as i32 {
                        p.s32min = p.s32min.saturating_add(1);
                    }
                    if p.s32max == c as i32 {
                        p.s32max = p.s32max.wrapping_sub(1);
                    }
                }
            }
        }
        Rel::Lt => {
            if y.u32max == 0 {
                x.u32min = 1;
                x.u32max = 0;
            } else {
                x.u32max = x.u32max.min(y.u32max - 1);
            }
            y.u32min = y.u32min.max(x.u32min.saturating_add(1));
        }
        Rel::Le => {
            x.u32max = x.u32max.min(y.u32max);
            y.u32min = y.u32min.max(x.u32min);
        }
        Rel::SLt => {
            if y.s32max == i32::MIN {
                x.s32min = 1;
                x.s32max = 0;
            } else {
                x.s32max = x.s32max.min(y.s32max - 1);
            }
            y.s32min = y.s32min.max(x.s32min.saturating_add(1));
        }
        Rel::SLe => {
            x.s32max = x.s32max.min(y.s32max);
            y.s32min = y.s32min.max(x.s32min);
        }
        Rel::Set => {}
        Rel::NotSet => {
            if let Some(c) = y.zext32().value() {
                x.var = x.var.and(Tnum::konst(!c | !0xffff_ffff));
            }
        }
    }
}

/// Concrete 64-bit ALU semantics (RFC 9669), used for constant folding.
pub fn eval64(op: AluOp, x: u64, y: u64) -> u64 {
    match op {
        AluOp::Add => x.wrapping_add(y),
        AluOp::Sub => x.wrapping_sub(y),
        AluOp::Mul => x.wrapping_mul(y),
        AluOp::Div => x.checked_div(y).unwrap_or(0),
        AluOp::SDiv => {
            if y == 0 {
                0
            } else {
                (x as i64).wrapping_div(y as i64) as u64
            }
        }
        AluOp::Or => x | y,
        AluOp::And => x & y,
        AluOp::Lsh => x << (y & 63),
        AluOp::Rsh => x >> (y & 63),
        AluOp::Mod => x.checked_rem(y).unwrap_or(x),
        AluOp::SMod => {
            if y == 0 {
                x
            } else {
                (x as i64).wrapping_rem(y as i64) as u64
            }
        }
        AluOp::Xor => x ^ y,
        AluOp::Mov => y,
        AluOp::Arsh => ((x as i64) >> (y & 63)) as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: &mut u64) -> u64 {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        *seed
    }

    fn member(s: &Scalar, seed: &mut u64) -> Option<u64> {
        for _ in 0..64 {
            let span = s.umax.wrapping_sub(s.umin);
            let v = if span == u64::MAX { rng(seed) } else { s.umin.wrapping_add(rng(seed) % (span + 1)) };
            let v = (v & s.var.mask) | s.var.value;
            let c = Scalar::konst(v);
            if s.contains(&c) {
                return Some(v);
            }
        }
        None
    }

    fn random_scalar(seed: &mut u64) -> Scalar {
        match rng(seed) % 4 {
            0 => Scalar::konst(rng(seed) % 300),
            1 => {
                let lo = rng(seed) % 1000;
                Scalar::urange(lo, lo + rng(seed) % 1000)
            }
            2 => {
                let lo = (rng(seed) % 2000) as i64 - 1000;
                Scalar::srange(lo, lo + (rng(seed) % 3000) as i64)
            }
            _ => Scalar::from_tnum(Tnum { value: rng(seed) & 0xf0, mask: rng(seed) & 0xff0f }),
        }
    }

    /// ALU results and branch refinements always keep the concrete outcome.
    #[test]
    fn transfer_functions_are_sound() {
        let ops = [
            AluOp::Add,
            AluOp::Sub,
            AluOp::Mul,
            AluOp::Div,
            AluOp::Mod,
            AluOp::And,
            AluOp::Or,
            AluOp::Xor,
            AluOp::Lsh,
            AluOp::Rsh,
            AluOp::Arsh,
            AluOp::SDiv,
            AluOp::SMod,
        ];
        let conds = [
            Cond::Eq,
            Cond::Ne,
            Cond::Gt,
            Cond::Ge,
            Cond::Lt,
            Cond::Le,
            Cond::SGt,
            Cond::SGe,
            Cond::SLt,
            Cond::SLe,
            Cond::Set,
        ];
        let mut seed = 0xdead_beef_cafe_f00du64;
        for i in 0..40_000 {
            let a = random_scalar(&mut seed);
            let mut b = random_scalar(&mut seed);
            let op = ops[i % ops.len()];
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) {
                b = Scalar::konst(rng(&mut seed) % 32);
            }
            let (Some(x), Some(y)) = (member(&a, &mut seed), member(&b, &mut seed)) else { continue };
            let width = if i % 3 == 0 { Width::W32 } else { Width::W64 };
            let concrete = match width {
                Width::W64 => eval64(op, x, y),
                Width::W32 => {
                    let (x, y) = (x as u32, y as u32);
                    u64::from(match op {
                        AluOp::Arsh => ((x as i32) >> (y & 31)) as u32,
                        AluOp::SDiv | AluOp::SMod => 0,
                        _ => eval64(op, u64::from(x), u64::from(y)) as u32,
                    })
                }
            };
            let r = a.alu(op, width, &b);
            if !matches!((width, op), (Width::W32, AluOp::SDiv | AluOp::SMod)) {
                assert!(r.contains(&Scalar::konst(concrete)), "{a} {op:?} {width:?} {b} = {r}, misses {concrete:#x}");
            }
            let cond = conds[i % conds.len()];
            let outcome = {
                let (p, q) = match width {
                    Width::W64 => (x, y),
                    Width::W32 => (x & 0xffff_ffff, y & 0xffff_ffff),
                };
                let (sp, sq) = match width {
                    Width::W64 => (p as i64, q as i64),
                    Width::W32 => (i64::from(p as u32 as i32), i64::from(q as u32 as i32)),
                };
                match cond {
                    Cond::Eq => p == q,
                    Cond::Ne => p != q,
                    Cond::Gt => p > q,
                    Cond::Ge => p >= q,
                    Cond::Lt => p < q,
                    Cond::Le => p <= q,
                    Cond::SGt => sp > sq,
                    Cond::SGe => sp >= sq,
                    Cond::SLt => sp < sq,
                    Cond::SLe => sp <= sq,
                    Cond::Set => p & q != 0,
                }
            };
            if let Some(t) = a.branch_taken(cond, width, &b) {
                assert_eq!(t, outcome, "{a} {cond:?} {width:?} {b} with {x:#x} {y:#x}");
            }
            let (mut ra, mut rb) = (a, b);
            let feasible = Scalar::refine(&mut ra, &mut rb, cond, width, outcome);
            assert!(feasible, "{a} {cond:?} {width:?} {b} refined to empty for {x:#x} {y:#x}");
            assert!(ra.contains(&Scalar::konst(x)), "{a} {cond:?}={outcome} {b}: {ra} misses {x:#x}");
            assert!(rb.contains(&Scalar::konst(y)), "{a} {cond:?}={outcome} {b}: {rb} misses {y:#x}");
        }
    }
}
