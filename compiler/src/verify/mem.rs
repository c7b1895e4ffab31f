//! Loads, stores and atomics: which region the base register points to, whether every byte the access
//! may touch lies inside it on this path, and what the stack bytes become.
//!
//! Stack accesses must be aligned to their size (the kernel insists, so spill tracking stays exact).
//! Map values and ringbuf records accept variable offsets when the interval of the offset is bounded:
//! the smallest possible offset must be ≥ 0 and the largest plus the size ≤ the object size.

use super::engine::Verifier;
use super::report::{Res, fail};
use super::scalar::Scalar;
use super::state::{ByteKind, Kind, Reg, Slot, State};
use super::{AccessFact, RegionKind};
use bpfc_runtime::isa::{AtomicOp, Operand, Reg as R, Size};

/// What an access does to memory.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Access {
    Read,
    Write(Option<Reg>),
}

impl Verifier<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn load(
        &mut self,
        idx: usize,
        st: &mut State,
        size: Size,
        signed: bool,
        dst: R,
        base: R,
        off: i16,
    ) -> Res<()> {
        let b = self.read(st, base)?;
        let v = self.access(idx, st, base.num(), b, i64::from(off), size.bytes() as u32, Access::Read)?;
        let v = match v {
            Some(mut r) if r.kind == Kind::Scalar => {
                if signed {
                    r.s = r.s.truncate(size.bytes() as u32).sign_extend(size.bytes() as u32 * 8);
                    r.id = 0;
                }
                r
            }
            Some(r) => r,
            None => Reg::unknown(),
        };
        self.write(st, dst, v)
    }

    pub(super) fn store(&mut self, idx: usize, st: &mut State, size: Size, base: R, off: i16, src: Operand) -> Res<()> {
        let b = self.read(st, base)?;
        let value = match src {
            Operand::Reg(r) => self.read(st, r)?,
            Operand::Imm(i) => Reg::konst(i64::from(i) as u64),
        };
        self.access(idx, st, base.num(), b, i64::from(off), size.bytes() as u32, Access::Write(Some(value)))?;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn atomic(
        &mut self,
        idx: usize,
        st: &mut State,
        op: AtomicOp,
        size: Size,
        base: R,
        off: i16,
        src: R,
    ) -> Res<()> {
        let b = self.read(st, base)?;
        let s = self.read(st, src)?;
        if op == AtomicOp::CmpXchg {
            self.read(st, R::R0)?;
        }
        if matches!(b.kind, Kind::Ctx) {
            return fail(
                "atomic operations on the context are not allowed",
                format!("BPF_ATOMIC stores into R{} ctx is not allowed", base.num()),
            );
        }
        let n = size.bytes() as u32;
        // Atomics trap on misaligned addresses in the runtime: require alignment on every region.
        let total = b.s.var.add(super::tnum::Tnum::konst((i64::from(b.off) + i64::from(off)) as u64));
        if !total.is_aligned(u64::from(n)) {
            return fail(
                format!(
                    "atomic {n}-byte access through r{} at an address that may not be {n}-byte aligned",
                    base.num()
                ),
                format!("misaligned access off {}+{} size {n}", b.off, off),
            );
        }
        if s.kind.is_ptr() && !matches!(b.kind, Kind::Stack { .. }) {
            return fail(
                format!("r{} holds {}; storing pointers in maps is not allowed", src.num(), s.kind.describe()),
                format!("R{} leaks addr into mem", src.num()),
            );
        }
        self.access(idx, st, base.num(), b, i64::from(off), n, Access::Read)?;
        self.access(idx, st, base.num(), b, i64::from(off), n, Access::Write(Some(Reg::unknown())))?;
        let fetched = Reg::scalar(if n == 4 { Scalar::UNKNOWN.zext32() } else { Scalar::UNKNOWN });
        match op {
            AtomicOp::CmpXchg => self.write(st, R::R0, fetched)?,
            AtomicOp::Xchg
            | AtomicOp::Add { fetch: true }
            | AtomicOp::Or { fetch: true }
            | AtomicOp::And { fetch: true }
            | AtomicOp::Xor { fetch: true } => self.write(st, src, fetched)?,
            _ => {}
        }
        Ok(())
    }

    /// Checks one access of `size` bytes at `b + off` and applies it; reads return the loaded register.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn access(
        &mut self,
        idx: usize,
        st: &mut State,
        regno: u8,
        b: Reg,
        off: i64,
        size: u32,
        acc: Access,
    ) -> Res<Option<Reg>> {
        let write = matches!(acc, Access::Write(_));
        let verb = if write { "write" } else { "read" };
        let fixed = i64::from(b.off) + off;
        match b.kind {
            Kind::NotInit => super::report::not_init(regno as usize),
            Kind::Scalar
            | Kind::MapPtr { .. }
            | Kind::MapPtrOrNull { .. }
            | Kind::Func { .. }
            | Kind::MapValue { null: true, .. }
            | Kind::Mem { null: true, .. } => {
                let hint = match b.kind {
                    Kind::MapValue { null: true, .. } | Kind::Mem { null: true, .. } | Kind::MapPtrOrNull { .. } => {
                        " — it may be NULL: add `if (!p) return 0;` before using it"
                    }
                    Kind::Scalar => " — it is a number, not a pointer the verifier can track",
                    _ => "",
                };
                fail(
                    format!("r{regno} holds {}, which cannot be dereferenced{hint}", b.kind.describe()),
                    format!("R{regno} invalid mem access '{}'", b.kind.name()),
                )
            }
            Kind::Ctx => {
                if b.s.value() != Some(0) {
                    return fail(
                        format!(
                            "the context pointer in r{regno} has a variable offset; context fields need constant offsets"
                        ),
                        format!("variable ctx access var_off={:?} disallowed", b.s.var),
                    );
                }
                if b.off != 0 {
                    return fail(
                        format!(
                            "r{regno} is the context pointer moved by {}; access fields as `*(ctx + off)` with the original pointer",
                            b.off
                        ),
                        format!("dereference of modified ctx ptr R{regno} off={} disallowed", b.off),
                    );
                }
                if let Access::Write(Some(v)) = acc
                    && v.kind.is_ptr()
                {
                    return fail(
                        "storing a pointer into the context is not allowed",
                        format!("R{regno} leaks addr into ctx"),
                    );
                }
                if let Err(e) = self.inp.ctx.check(fixed, size, write) {
                    return fail(
                        format!("invalid {verb} of {size} bytes at offset {fixed} of the context: {e}"),
                        format!("invalid bpf_context access off={fixed} size={size}"),
                    );
                }
                self.record_access(
                    idx,
                    AccessFact { region: Some(RegionKind::Ctx), in_bounds: true, const_offset: Some(fixed) },
                );
                Ok(Some(Reg::scalar(Scalar::UNKNOWN.truncate(size))))
            }
            Kind::MapValue { map, null: false } => {
                let def = &self.inp.maps[map as usize];
                if write && def.readonly {
                    return fail(
                        format!("map `{}` is read-only for programs (const data)", def.name),
                        format!("write into map forbidden, value_size={} off={fixed} size={size}", def.value_size),
                    );
                }
                if let Access::Write(Some(v)) = acc
                    && v.kind.is_ptr()
                {
                    return fail(
                        format!("storing {} into map `{}` would leak a pointer", v.kind.describe(), def.name),
                        format!("R{regno} leaks addr into map"),
                    );
                }
                let (limit, name) = (def.value_size, format!("map `{}` value", def.name));
                let lock = def.spin_lock_off;
                let k = self.bounded(regno, &b, off, size, i64::from(limit), &name, "map value", "value_size")?;
                if let Some(l) = lock {
                    let (lo, hi) = (fixed + b.s.smin.max(0), fixed + b.s.umax.min(1 << 29) as i64 + i64::from(size));
                    if lo < i64::from(l) + 4 && hi > i64::from(l) {
                        return fail(
                            "the bpf_spin_lock in a map value cannot be read or written directly",
                            "bpf_spin_lock cannot be accessed directly by load/store",
                        );
                    }
                }
                self.record_access(
                    idx,
                    AccessFact { region: Some(RegionKind::MapValue), in_bounds: true, const_offset: k },
                );
                Ok(Some(Reg::scalar(Scalar::UNKNOWN.truncate(size))))
            }
            Kind::Mem { size: limit, null: false } => {
                if let Access::Write(Some(v)) = acc
                    && v.kind.is_ptr()
                {
                    return fail(
                        "storing a pointer into a ringbuf record would leak it",
                        format!("R{regno} leaks addr into mem"),
                    );
                }
                let k = self.bounded(regno, &b, off, size, i64::from(limit), "ringbuf record", "mem", "mem_size")?;
                self.record_access(
                    idx,
                    AccessFact { region: Some(RegionKind::RingbufMem), in_bounds: true, const_offset: k },
                );
                Ok(Some(Reg::scalar(Scalar::UNKNOWN.truncate(size))))
            }
            Kind::Stack { frame } => {
                let r = self.stack_access(st, regno, frame, &b, off, size, acc, false)?;
                let k = b.s.value().map(|v| fixed + v as i64);
                self.record_access(
                    idx,
                    AccessFact { region: Some(RegionKind::Stack), in_bounds: true, const_offset: k },
                );
                Ok(r)
            }
        }
    }

    /// Bounds of `b + off .. + size` inside `[0, limit)`; returns the constant offset if there is one.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn bounded(
        &self,
        regno: u8,
        b: &Reg,
        off: i64,
        size: u32,
        limit: i64,
        what: &str,
        kname: &str,
        kfield: &str,
    ) -> Res<Option<i64>> {
        let fixed = i64::from(b.off) + off;
        let size = i64::from(size);
        if let Some(v) = b.s.value() {
            let o = fixed + v as i64;
            if o < 0 || o + size > limit {
                return fail(
                    format!("access to bytes {o}..{} of the {what}, which has {limit} bytes", o + size),
                    format!("invalid access to {kname}, {kfield}={limit} off={o} size={size}"),
                );
            }
            return Ok(Some(o));
        }
        if b.s.smin == i64::MIN || fixed + b.s.smin < 0 {
            return fail(
                format!(
                    "r{regno}: the offset into the {what} may be negative; compare it with 0 or use an unsigned type"
                ),
                format!("R{regno} min value is negative, either use unsigned index or do a if (index >=0) check."),
            );
        }
        if b.s.umax >= 1 << 29 {
            return fail(
                format!(
                    "r{regno}: the offset into the {what} has no upper bound; check it (e.g. `if (i < N)`) before the access"
                ),
                format!("R{regno} unbounded memory access, make sure to bounds check any such access"),
            );
        }
        let hi = fixed + b.s.umax as i64;
        if hi + size > limit {
            return fail(
                format!("the offset into the {what} can reach {hi}, so {size} bytes may run past its {limit} bytes"),
                format!("invalid access to {kname}, {kfield}={limit} off={hi} size={size}"),
            );
        }
        Ok(None)
    }

    /// A stack access through a pointer into `frame`. `helper` relaxes nothing but the message.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stack_access(
        &mut self,
        st: &mut State,
        regno: u8,
        frame: u8,
        b: &Reg,
        off: i64,
        size: u32,
        acc: Access,
        helper: bool,
    ) -> Res<Option<Reg>> {
        let fixed = i64::from(b.off) + off;
        let write = matches!(acc, Access::Write(_));
        let verb = if write { "write" } else { "read" };
        let (lo, hi) = match b.s.value() {
            Some(v) => (fixed + v as i64, fixed + v as i64),
            None => {
                if b.s.smin < -(1 << 29) || b.s.smax > (1 << 29) {
                    return fail(
                        format!("r{regno}: the stack offset is unbounded"),
                        format!("invalid unbounded variable-offset {verb} to stack R{regno}"),
                    );
                }
                (fixed + b.s.smin, fixed + b.s.smax)
            }
        };
        if lo < -super::MAX_STACK || hi + i64::from(size) > 0 || size == 0 && hi > 0 {
            return fail(
                format!("{verb} of {size} bytes at stack offset {lo}..{hi} is outside the 512-byte frame [-512, 0)"),
                if b.s.value().is_some() {
                    format!("invalid {verb} to stack R{regno} off={lo} size={size}")
                } else {
                    format!(
                        "invalid variable-offset {verb} to stack R{regno} var_off={:?} off={fixed} size={size}",
                        b.s.var
                    )
                },
            );
        }
        if !helper {
            let total = b.s.var.add(super::tnum::Tnum::konst(fixed as u64));
            if !total.is_aligned(u64::from(size)) {
                return fail(
                    format!("stack {verb} of {size} bytes at offset {lo} is not {size}-byte aligned"),
                    format!("misaligned stack access off {:?}+{} size {size}", b.s.var, fixed),
                );
            }
        }
        let fidx = frame as usize;
        if fidx >= st.frames.len() {
            return fail("pointer to a stack frame that has returned", "invalid stack frame");
        }
        let func = st.frames[fidx].func;
        let depth = (-lo) as u32;
        let d = self.facts.stack_depth.entry(func).or_insert(0);
        *d = (*d).max(depth.div_ceil(8) * 8);
        let end = hi + i64::from(size);
        let fr = &mut st.frames[fidx];
        let byte = |o: i64| -> (usize, usize) {
            let below = (-o - 1) as usize; // 0 for fp-1
            let slot = below / 8;
            (slot, 7 - below % 8)
        };
        match acc {
            Access::Write(v) => {
                let exact = b.s.value().is_some();
                if exact
                    && size == 8
                    && lo % 8 == 0
                    && let Some(v) = v
                {
                    let (slot, _) = byte(lo);
                    *fr.slot_mut(slot) = Slot { bytes: [ByteKind::Spill; 8], spill: v };
                    return Ok(None);
                }
                if let Some(v) = v
                    && v.kind.is_ptr()
                    && !helper
                {
                    return fail(
                        format!("a pointer can only be saved to the stack as 8 aligned bytes, not {size}"),
                        "invalid size of register spill",
                    );
                }
                let zero = exact
                    && matches!(v, Some(r) if r.kind == Kind::Scalar && r.s.value().map(|c| c & mask(size)) == Some(0));
                for o in lo..end {
                    let (slot, bi) = byte(o);
                    let s = fr.slot_mut(slot);
                    if s.bytes.contains(&ByteKind::Spill) {
                        for x in &mut s.bytes {
                            if *x == ByteKind::Spill {
                                *x = ByteKind::Misc;
                            }
                        }
                        s.spill = Reg::NOT_INIT;
                    }
                    // Variable-offset writes may miss a byte: keep it as unknown data at best.
                    s.bytes[bi] = if zero { ByteKind::Zero } else { ByteKind::Misc };
                }
                Ok(None)
            }
            Access::Read => {
                if b.s.value().is_some() {
                    let (slot, _) = byte(lo);
                    let s = fr.slot(slot);
                    if s.is_spill() && lo % 8 == 0 && !helper {
                        if size == 8 {
                            return Ok(Some(s.spill));
                        }
                        if s.spill.kind != Kind::Scalar {
                            return fail(
                                format!("reading {size} bytes of a pointer saved on the stack; read all 8 bytes"),
                                "invalid size of register fill",
                            );
                        }
                        return Ok(Some(Reg::scalar(s.spill.s.truncate(size))));
                    }
                }
                let mut all_zero = true;
                for o in lo..end {
                    let (slot, bi) = byte(o);
                    let s = fr.slot(slot);
                    match s.bytes[bi] {
                        ByteKind::Invalid => {
                            return fail(
                                format!(
                                    "{} reads stack byte at offset {o}, which was never written (uninitialised stack)",
                                    if helper { "the helper" } else { "the load" }
                                ),
                                format!("invalid read from stack R{regno} off {o} size {size}"),
                            );
                        }
                        ByteKind::Zero => {}
                        ByteKind::Spill => {
                            if s.spill.kind.is_ptr() && !helper {
                                return fail(
                                    "partial read of a pointer saved on the stack",
                                    "invalid size of register fill",
                                );
                            }
                            all_zero &= s.spill.s.value() == Some(0);
                        }
                        ByteKind::Misc => all_zero = false,
                    }
                }
                Ok(Some(if all_zero { Reg::konst(0) } else { Reg::scalar(Scalar::UNKNOWN.truncate(size)) }))
            }
        }
    }
}

fn mask(size: u32) -> u64 {
    if size >= 8 { u64::MAX } else { (1u64 << (size * 8)) - 1 }
}
