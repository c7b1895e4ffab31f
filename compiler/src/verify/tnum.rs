//! Tristate numbers ("tnums"), the kernel's known-bits domain (kernel/bpf/tnum.c, after Edward Cree):
//! a 64-bit value is described by `value` (bits known to be 1) and `mask` (unknown bits); a bit set in
//! `mask` is never set in `value`. Every operation over-approximates: the result contains every
//! concrete result of operands drawn from the inputs, which is what makes the verifier sound.

use std::fmt;

/// A set of 64-bit values sharing known bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tnum {
    /// Known-one bits.
    pub value: u64,
    /// Unknown bits.
    pub mask: u64,
}

impl fmt::Debug for Tnum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:#x}; {:#x})", self.value, self.mask)
    }
}

// The operations keep the kernel's names (tnum_add, tnum_sub, ...) rather than operator traits, so the
// code reads side by side with kernel/bpf/tnum.c.
#[allow(clippy::should_implement_trait)]
impl Tnum {
    /// Every value.
    pub const UNKNOWN: Tnum = Tnum { value: 0, mask: u64::MAX };

    /// Exactly `v`.
    pub const fn konst(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum containing `[min, max]` (unsigned).
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum { value: min & !delta, mask: delta }
    }

    /// Whether exactly one value is contained.
    pub fn is_const(self) -> bool {
        self.mask == 0
    }

    /// Smallest contained value.
    pub fn umin(self) -> u64 {
        self.value
    }

    /// Largest contained value.
    pub fn umax(self) -> u64 {
        self.value | self.mask
    }

    /// Whether every value of `b` is in `self`.
    pub fn contains(self, b: Tnum) -> bool {
        if b.mask & !self.mask != 0 {
            return false;
        }
        self.value == b.value & !self.mask
    }

    /// Whether `v` is in the set.
    pub fn contains_value(self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Sum.
    pub fn add(self, b: Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum { value: sv & !mu, mask: mu }
    }

    /// Difference.
    pub fn sub(self, b: Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum { value: dv & !mu, mask: mu }
    }

    /// Negation.
    pub fn neg(self) -> Tnum {
        Tnum::konst(0).sub(self)
    }

    /// Bitwise and.
    pub fn and(self, b: Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum { value: v, mask: alpha & beta & !v }
    }

    /// Bitwise or.
    pub fn or(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum { value: v, mask: mu & !v }
    }

    /// Bitwise xor.
    pub fn xor(self, b: Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum { value: v & !mu, mask: mu }
    }

    /// Product (the kernel's long multiplication over known and unknown partial products).
    pub fn mul(self, b: Tnum) -> Tnum {
        let mut a = self;
        let mut b = b;
        let mut acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::konst(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(Tnum { value: 0, mask: b.mask });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(Tnum { value: 0, mask: b.value | b.mask });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        let r = Tnum::konst(acc_v).add(acc_m);
        acc_v = r.value;
        Tnum { value: acc_v, mask: r.mask }
    }

    /// Left shift by a known amount (< 64).
    pub fn lshift(self, s: u32) -> Tnum {
        Tnum { value: self.value << s, mask: self.mask << s }
    }

    /// Logical right shift by a known amount (< 64).
    pub fn rshift(self, s: u32) -> Tnum {
        Tnum { value: self.value >> s, mask: self.mask >> s }
    }

    /// Arithmetic right shift of the low `bits` (32 or 64) by a known amount.
    pub fn arshift(self, s: u32, bits: u32) -> Tnum {
        if bits == 32 {
            Tnum {
                value: ((self.value as u32 as i32) >> s) as u32 as u64,
                mask: ((self.mask as u32 as i32) >> s) as u32 as u64,
            }
        } else {
            Tnum { value: ((self.value as i64) >> s) as u64, mask: ((self.mask as i64) >> s) as u64 }
        }
    }

    /// Values in both (the caller knows they overlap).
    pub fn intersect(self, b: Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Tnum { value: v & !mu, mask: mu }
    }

    /// Values in either.
    pub fn union(self, b: Tnum) -> Tnum {
        let v = self.value & b.value;
        let mu = self.mask | b.mask | (self.value ^ b.value);
        Tnum { value: v & !mu, mask: mu }
    }

    /// Truncation to the low `bytes` bytes.
    pub fn cast(self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return self;
        }
        let m = (1u64 << (bytes * 8)) - 1;
        Tnum { value: self.value & m, mask: self.mask & m }
    }

    /// The low 32 bits.
    pub fn subreg(self) -> Tnum {
        self.cast(4)
    }

    /// Replaces the low 32 bits with `low`.
    pub fn with_subreg(self, low: Tnum) -> Tnum {
        let hi = Tnum { value: self.value & !0xffff_ffff, mask: self.mask & !0xffff_ffff };
        hi.or(low.subreg())
    }

    /// Whether all values are multiples of `size` (a power of two).
    pub fn is_aligned(self, size: u64) -> bool {
        size == 0 || (self.value | self.mask) & (size - 1) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation must contain the concrete result for members of its inputs.
    #[test]
    fn ops_are_sound_on_random_members() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let m1 = next() & next();
            let m2 = next() & next() & next();
            let a = Tnum { value: next() & !m1, mask: m1 };
            let b = Tnum { value: next() & !m2, mask: m2 };
            let x = a.value | (next() & a.mask);
            let y = b.value | (next() & b.mask);
            assert!(a.add(b).contains_value(x.wrapping_add(y)), "add {a:?} {b:?}");
            assert!(a.sub(b).contains_value(x.wrapping_sub(y)), "sub {a:?} {b:?}");
            assert!(a.mul(b).contains_value(x.wrapping_mul(y)), "mul {a:?} {b:?}");
            assert!(a.and(b).contains_value(x & y));
            assert!(a.or(b).contains_value(x | y));
            assert!(a.xor(b).contains_value(x ^ y));
            assert!(a.union(b).contains_value(x) && a.union(b).contains_value(y));
            let s = (next() % 64) as u32;
            assert!(a.lshift(s).contains_value(x << s));
            assert!(a.rshift(s).contains_value(x >> s));
            assert!(a.arshift(s, 64).contains_value(((x as i64) >> s) as u64));
            let lo = next() % 1000;
            let hi = lo + next() % 100_000;
            let r = Tnum::range(lo, hi);
            assert!(r.contains_value(lo) && r.contains_value(hi) && r.contains_value((lo + hi) / 2));
        }
    }
}
