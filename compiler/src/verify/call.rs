//! Calls: helpers checked against the one signature table (`runtime::helpers::spec`), BPF-to-BPF calls
//! (a new frame, at most eight deep), and callbacks of `bpf_loop` / `bpf_for_each_map_elem`, which are
//! verified as functions entered from the helper call, any number of times (see the engine's pruning).

use super::engine::{Step, Verifier};
use super::map_type as mt;
use super::mem::Access;
use super::report::{Res, fail, not_init};
use super::scalar::Scalar;
use super::state::{Frame, FrameKind, Kind, Reg, State};
use super::{MAX_CALL_FRAMES, MapDef};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::helpers::spec::{self, ArgKind, HelperSpec, RetKind};

const MAX_SIZE: u64 = 1 << 29;

/// Whether map type `t` may be passed to helper `id` (the kernel's `check_map_func_compatibility`).
fn map_ok(t: u32, id: u32) -> bool {
    let generic = matches!(id, 1..=3);
    let ok_for_map = match t {
        mt::RINGBUF => matches!(id, 130 | 131 | 134),
        mt::PROG_ARRAY => id == 12,
        mt::PERF_EVENT_ARRAY => id == 25,
        mt::STACK_TRACE => id == 27,
        mt::QUEUE | mt::STACK => matches!(id, 87..=89),
        mt::BLOOM_FILTER => matches!(id, 87 | 89),
        mt::ARRAY_OF_MAPS | mt::HASH_OF_MAPS => id == 1,
        _ => generic || id == 164,
    };
    let ok_for_func = match id {
        130 | 131 | 134 => t == mt::RINGBUF,
        12 => t == mt::PROG_ARRAY,
        25 => t == mt::PERF_EVENT_ARRAY,
        27 => t == mt::STACK_TRACE,
        87 | 89 => matches!(t, mt::QUEUE | mt::STACK | mt::BLOOM_FILTER),
        88 => matches!(t, mt::QUEUE | mt::STACK),
        164 => {
            matches!(t, mt::HASH | mt::ARRAY | mt::PERCPU_HASH | mt::PERCPU_ARRAY | mt::LRU_HASH | mt::LRU_PERCPU_HASH)
        }
        _ => true,
    };
    ok_for_map && ok_for_func
}

/// Whether the kernel offers helper `id` to programs of `pt`.
fn available(pt: ProgType, id: u32) -> bool {
    match pt {
        ProgType::Unspec => true,
        ProgType::Kprobe => true,
        ProgType::Tracepoint | ProgType::RawTracepoint => id != 173,
        ProgType::PerfEvent => id != 173,
        // Syscall programs get the tracing helpers (`tracing_prog_func_proto`): the probe reads and
        // trace_printk load and run there (testsuite/tests/helpers_kernel.rs does both).
        ProgType::Syscall => !matches!(id, 25 | 27 | 35 | 67 | 173 | 174 | 177),
        _ => !matches!(id, 4 | 6 | 25 | 27 | 35 | 45 | 67 | 112..=115 | 173 | 174 | 177),
    }
}

fn is_tracing(pt: ProgType) -> bool {
    matches!(
        pt,
        ProgType::Kprobe | ProgType::Tracepoint | ProgType::RawTracepoint | ProgType::PerfEvent | ProgType::Tracing
    )
}

fn type_mismatch<T>(r: usize, got: &Reg, want: &str, human: &str) -> Res<T> {
    fail(
        format!("argument {r} (r{r}) must be {human}, but it is {}", got.kind.describe()),
        format!("R{r} type={} expected={want}", got.kind.name()),
    )
}

impl Verifier<'_> {
    pub(super) fn call_helper(&mut self, idx: usize, st: &mut State, id: i32) -> Res<Step> {
        let Some(h) = u32::try_from(id).ok().and_then(spec::lookup) else {
            return fail(format!("unknown helper function #{id}"), format!("invalid func unknown#{id}"));
        };
        let name = format!("bpf_{}#{}", h.name, h.id);
        if !available(self.inp.prog_type, h.id) {
            return fail(
                format!("{name} is not available to {:?} programs", self.inp.prog_type),
                format!("program of this type cannot use helper {name}"),
            );
        }
        if h.gpl_only && !self.inp.gpl {
            return fail(
                format!("{name} may only be called from GPL-licensed programs"),
                "cannot call GPL-restricted function from non-GPL compatible program",
            );
        }
        if st.lock.is_some() && h.id != 94 {
            return fail(
                format!("{name} is called while a bpf_spin_lock is held"),
                "function calls are not allowed while holding a lock",
            );
        }
        let mut map: Option<u32> = None;
        let mut callback: Option<(usize, Reg)> = None;
        let mut alloc = 0u32;
        let mut release = None;
        for (i, kind) in h.args.iter().enumerate() {
            let r = i + 1;
            let reg = *st.reg(r);
            if reg.kind == Kind::NotInit {
                return not_init(r);
            }
            self.check_arg(idx, st, h, r, *kind, &reg, &mut map, &mut callback, &mut alloc, &mut release)?;
        }
        if let Some(ref_id) = release {
            st.refs.retain(|(x, _)| *x != ref_id);
            st.for_each_reg(|x| {
                if x.ref_id == ref_id {
                    *x = Reg::unknown();
                }
            });
        }
        if h.id == 93 || h.id == 94 {
            let p = *st.reg(1);
            let key = (
                match p.kind {
                    Kind::MapValue { map, .. } => map,
                    _ => 0,
                },
                i64::from(p.off),
            );
            if h.id == 93 {
                if st.lock.is_some() {
                    return fail(
                        "bpf_spin_lock is called twice without unlocking",
                        "Locking two bpf_spin_locks are not allowed",
                    );
                }
                st.lock = Some((key.0, key.1, self.pc(idx)));
            } else {
                match st.lock {
                    Some((m, o, _)) if (m, o) == key => st.lock = None,
                    Some(_) => {
                        return fail(
                            "bpf_spin_unlock of a different lock than the one held",
                            "bpf_spin_unlock of different lock",
                        );
                    }
                    None => {
                        return fail("bpf_spin_unlock without a held lock", "bpf_spin_unlock without taking a lock");
                    }
                }
            }
        }
        let r0 = match h.ret {
            RetKind::Integer => Reg::unknown(),
            // The kernel leaves r0 unreadable after a void helper.
            RetKind::Void => Reg::NOT_INIT,
            RetKind::MapValueOrNull
                if map.is_some_and(|m| {
                    matches!(self.inp.maps[m as usize].map_type, mt::ARRAY_OF_MAPS | mt::HASH_OF_MAPS)
                }) =>
            {
                let d = &self.inp.maps[map.unwrap_or(0) as usize];
                let Some(inner) = d.inner_map.filter(|&i| (i as usize) < self.inp.maps.len()) else {
                    return fail(
                        format!("map-in-map `{}` has no inner map template", d.name),
                        "map-in-map without inner map",
                    );
                };
                let mut r = Reg::ptr(Kind::MapPtrOrNull { map: inner }, 0);
                r.id = self.new_id();
                r
            }
            RetKind::MapValueOrNull => {
                let m = map.expect("the spec gives lookup a map argument");
                let null = !self.const_key_in_array(st, m);
                let mut r = Reg::ptr(Kind::MapValue { map: m, null }, 0);
                if null {
                    r.id = self.new_id();
                }
                r
            }
            RetKind::RingbufMemOrNull => {
                let mut r = Reg::ptr(Kind::Mem { size: alloc, null: true }, 0);
                r.id = self.new_id();
                r.ref_id = self.new_id();
                st.refs.push((r.ref_id, self.pc(idx)));
                r
            }
        };
        {
            let f = st.cur_mut();
            f.regs[0] = r0;
            for r in &mut f.regs[1..=5] {
                *r = Reg::NOT_INIT;
            }
        }
        if let Some((func_pc, ctx_arg)) = callback {
            return self.enter_callback(idx, st, h, func_pc, ctx_arg, map);
        }
        Ok(Step::Next(idx + 1))
    }

    /// `bpf_map_lookup_elem` on an array with a constant in-range key never returns NULL (Linux ≥ 6.14).
    /// The key must be known-zero bytes on the stack (the kernel's `get_constant_map_key` also accepts a
    /// constant spilled with exactly the key's size, which bpfc does not track: it then asks for the check).
    fn const_key_in_array(&self, st: &State, m: u32) -> bool {
        let d = &self.inp.maps[m as usize];
        if !matches!(d.map_type, mt::ARRAY | mt::PERCPU_ARRAY) {
            return false;
        }
        let key = *st.reg(2);
        let (Kind::Stack { frame }, Some(v)) = (key.kind, key.s.value()) else { return false };
        let off = i64::from(key.off) + v as i64;
        if !(-super::MAX_STACK..0).contains(&off) || d.key_size == 0 {
            return false;
        }
        let Some(fr) = st.frames.get(frame as usize) else { return false };
        let below = (-off - 1) as usize;
        let slot = fr.slot(below / 8);
        let first = 7 - below % 8;
        let end = first + d.key_size as usize;
        let value = if end <= 8 && slot.bytes[first..end].iter().all(|b| *b == super::state::ByteKind::Zero) {
            Some(0)
        } else {
            None
        };
        value.is_some_and(|k| k < u64::from(d.max_entries))
    }

    #[allow(clippy::too_many_arguments)]
    fn check_arg(
        &mut self,
        idx: usize,
        st: &mut State,
        h: &HelperSpec,
        r: usize,
        kind: ArgKind,
        reg: &Reg,
        map: &mut Option<u32>,
        callback: &mut Option<(usize, Reg)>,
        alloc: &mut u32,
        release: &mut Option<u32>,
    ) -> Res<()> {
        let def = |m: &Option<u32>| -> Res<MapDef> {
            match m {
                Some(m) => Ok(self.inp.maps[*m as usize].clone()),
                None => fail("a key or value argument comes before its map", "invalid map_ptr to access map->key"),
            }
        };
        match kind {
            ArgKind::Anything => Ok(()),
            ArgKind::MapPtr => {
                let Kind::MapPtr { map: m } = reg.kind else {
                    return type_mismatch(r, reg, "map_ptr", "a map (`&my_map`)");
                };
                let d = &self.inp.maps[m as usize];
                if !map_ok(d.map_type, h.id) {
                    return fail(
                        format!("map `{}` (type {}) cannot be used with bpf_{}", d.name, d.map_type, h.name),
                        format!("cannot pass map_type {} into func bpf_{}#{}", d.map_type, h.name, h.id),
                    );
                }
                if d.spin_lock_off.is_some() && is_tracing(self.inp.prog_type) {
                    return fail(
                        "tracing programs cannot use maps with a bpf_spin_lock",
                        "tracing progs cannot use bpf_spin_lock yet",
                    );
                }
                *map = Some(m);
                Ok(())
            }
            ArgKind::MapKey => {
                let d = def(map)?;
                self.mem_arg(idx, st, r, reg, u64::from(d.key_size), false, "map key")
            }
            ArgKind::MapValue => {
                let d = def(map)?;
                self.mem_arg(idx, st, r, reg, u64::from(d.value_size), false, "map value")
            }
            ArgKind::MapValueUninit => {
                let d = def(map)?;
                self.mem_arg(idx, st, r, reg, u64::from(d.value_size), true, "map value")
            }
            ArgKind::MemRead | ArgKind::MemReadOrNull | ArgKind::MemWrite => Ok(()),
            ArgKind::Size | ArgKind::SizeOrZero => {
                if reg.kind != Kind::Scalar {
                    return type_mismatch(r, reg, "scalar", "a size (a number)");
                }
                let zero_ok = kind == ArgKind::SizeOrZero;
                if reg.s.smin < 0 {
                    return fail(
                        format!("the size in r{r} may be negative; use an unsigned type or `size &= CONST`"),
                        format!("R{r} min value is negative, either use unsigned or 'var &= const'"),
                    );
                }
                if reg.s.umin == 0 && !zero_ok {
                    return fail(
                        format!("the size in r{r} may be 0, which bpf_{} does not accept", h.name),
                        format!("R{r} invalid zero-sized read"),
                    );
                }
                if reg.s.umax >= MAX_SIZE {
                    return fail(
                        format!("the size in r{r} has no upper bound; check it (`if (n > N) n = N;`)"),
                        format!("R{r} unbounded memory access, use 'var &= const' or 'if (var < const)'"),
                    );
                }
                let pr = r - 1;
                let p = *st.reg(pr);
                let pk = h.args[pr - 1];
                if pk == ArgKind::MemReadOrNull && p.kind == Kind::Scalar && p.s.value() == Some(0) {
                    if reg.s.umax != 0 {
                        return fail(
                            format!("r{pr} is NULL but the size in r{r} may be non-zero"),
                            format!("R{pr} type=scalar expected=fp"),
                        );
                    }
                    return Ok(());
                }
                if reg.s.umax == 0 {
                    // Zero bytes: the pointer still has to be a pointer.
                    if !p.kind.is_ptr() {
                        return type_mismatch(pr, &p, "fp", "a pointer to memory");
                    }
                    return Ok(());
                }
                self.mem_arg(idx, st, pr, &p, reg.s.umax, pk == ArgKind::MemWrite, "buffer")
            }
            ArgKind::AllocSize => {
                let Some(c) = reg.s.value().filter(|_| reg.kind == Kind::Scalar) else {
                    return fail(
                        format!("the size in r{r} must be a constant"),
                        format!("R{r} is not a known constant'"),
                    );
                };
                if c >= MAX_SIZE {
                    return fail(format!("reserving {c} bytes is too much"), format!("R{r} unbounded memory access"));
                }
                *alloc = c as u32;
                Ok(())
            }
            ArgKind::Ctx => {
                if reg.kind != Kind::Ctx {
                    return type_mismatch(r, reg, "ctx", "the context pointer");
                }
                if reg.off != 0 || reg.s.value() != Some(0) {
                    return fail(
                        format!("r{r} is the context pointer moved by {}; pass the original pointer", reg.off),
                        format!("dereference of modified ctx ptr R{r} off={} disallowed", reg.off),
                    );
                }
                Ok(())
            }
            ArgKind::Func => {
                let Kind::Func { pc } = reg.kind else {
                    return type_mismatch(r, reg, "func", "a BPF function (callback)");
                };
                let ctx_arg = *st.reg(r + 1);
                *callback = Some((pc as usize, ctx_arg));
                Ok(())
            }
            ArgKind::StackOrNull => match reg.kind {
                Kind::Stack { .. } => Ok(()),
                Kind::Scalar if reg.s.value() == Some(0) => Ok(()),
                _ => type_mismatch(r, reg, "fp", "a pointer to the stack or NULL"),
            },
            ArgKind::RingbufMem => {
                if !matches!(reg.kind, Kind::Mem { null: false, .. }) || reg.ref_id == 0 {
                    return type_mismatch(
                        r,
                        reg,
                        "ringbuf_mem",
                        "a record returned by bpf_ringbuf_reserve and checked against NULL",
                    );
                }
                if reg.off != 0 || reg.s.value() != Some(0) {
                    return fail(
                        format!(
                            "r{r} points {} bytes into the ringbuf record; pass the pointer reserve returned",
                            reg.off
                        ),
                        format!("R{r} must have zero offset when passed to release func"),
                    );
                }
                *release = Some(reg.ref_id);
                Ok(())
            }
            ArgKind::Long => self.mem_arg(idx, st, r, reg, 8, true, "long"),
            ArgKind::SpinLock => {
                let Kind::MapValue { map: m, null: false } = reg.kind else {
                    return type_mismatch(r, reg, "map_value", "a pointer to a bpf_spin_lock in a map value");
                };
                let d = &self.inp.maps[m as usize];
                match d.spin_lock_off {
                    None => fail(
                        format!("map `{}` has no bpf_spin_lock", d.name),
                        format!("map '{}' has to have BTF in order to use bpf_spin_lock", d.name),
                    ),
                    Some(o) if reg.s.value() == Some(0) && reg.off as u32 == o => Ok(()),
                    Some(o) => fail(
                        format!("r{r} does not point at the bpf_spin_lock (offset {o}) of map `{}`", d.name),
                        format!("off {} doesn't point to 'struct bpf_spin_lock' that is at {o}", reg.off),
                    ),
                }
            }
            ArgKind::ConstStr => {
                let Kind::MapValue { map: m, null: false } = reg.kind else {
                    return type_mismatch(r, reg, "map_value", "a constant string (in .rodata)");
                };
                let d = &self.inp.maps[m as usize];
                let (Some(init), Some(off)) = (&d.init, reg.s.value()) else {
                    return fail(
                        "the string argument must be a constant string in read-only data",
                        format!("R{r} does not point to a readonly map'"),
                    );
                };
                if !d.readonly {
                    return fail(
                        "the string argument must be in read-only data",
                        format!("R{r} does not point to a readonly map'"),
                    );
                }
                let start = (i64::from(reg.off) + off as i64) as usize;
                if init.get(start..).is_none_or(|s| !s.contains(&0)) {
                    return fail(
                        "the string argument is not NUL-terminated inside its map value",
                        "string is not zero-terminated",
                    );
                }
                Ok(())
            }
        }
    }

    /// A pointer argument through which the helper touches `size` bytes.
    #[allow(clippy::too_many_arguments)]
    fn mem_arg(
        &mut self,
        idx: usize,
        st: &mut State,
        r: usize,
        reg: &Reg,
        size: u64,
        write: bool,
        what: &str,
    ) -> Res<()> {
        let _ = idx;
        let size = size as u32;
        let acc = if write { Access::Write(None) } else { Access::Read };
        match reg.kind {
            Kind::Stack { frame } => {
                self.stack_access(st, r as u8, frame, reg, 0, size, acc, true)?;
                Ok(())
            }
            Kind::MapValue { map, null: false } => {
                let d = &self.inp.maps[map as usize];
                if write && d.readonly {
                    return fail(
                        format!("map `{}` is read-only", d.name),
                        format!("write into map forbidden, value_size={} off={} size={size}", d.value_size, reg.off),
                    );
                }
                let name = format!("map `{}` value", d.name);
                self.bounded(r as u8, reg, 0, size, i64::from(d.value_size), &name, "map value", "value_size")?;
                Ok(())
            }
            Kind::Mem { size: limit, null: false } => {
                self.bounded(r as u8, reg, 0, size, i64::from(limit), "ringbuf record", "mem", "mem_size")?;
                Ok(())
            }
            _ => type_mismatch(r, reg, "fp", &format!("a pointer to the {what} (stack, map value or ringbuf record)")),
        }
    }

    fn enter_callback(
        &mut self,
        idx: usize,
        st: &mut State,
        h: &HelperSpec,
        func_pc: usize,
        ctx_arg: Reg,
        map: Option<u32>,
    ) -> Res<Step> {
        let depth = st.frames.len();
        if depth >= MAX_CALL_FRAMES {
            return fail(
                format!("calling the callback would nest {} frames (at most {MAX_CALL_FRAMES})", depth + 1),
                format!("the call stack of {} frames is too deep", depth + 1),
            );
        }
        let caller = st.cur().func;
        self.calls.insert((caller, func_pc));
        let mut args = [Reg::NOT_INIT; 5];
        if h.id == 181 {
            args[0] = Reg::scalar(Scalar::UNKNOWN.zext32());
            args[1] = ctx_arg;
        } else {
            let m = map.expect("for_each_map_elem has a map argument");
            let d = &self.inp.maps[m as usize];
            args[0] = Reg::ptr(Kind::MapPtr { map: m }, 0);
            args[1] = Reg::ptr(Kind::Mem { size: d.key_size, null: false }, 0);
            args[2] = Reg::ptr(Kind::MapValue { map: m, null: false }, 0);
            args[3] = ctx_arg;
        }
        // The helper may call it zero times.
        self.fork(idx + 1, st.clone());
        let mut regs = [Reg::NOT_INIT; 11];
        regs[1..=5].copy_from_slice(&args);
        regs[10] = Reg::ptr(Kind::Stack { frame: depth as u8 }, 0);
        let call_pc = self.pc(idx);
        st.frames.push(Frame {
            regs,
            stack: Vec::new(),
            func: func_pc,
            kind: FrameKind::Callback { call_pc, func: func_pc, args },
        });
        Ok(Step::Next(self.idx(func_pc)?))
    }

    pub(super) fn call_local(&mut self, idx: usize, st: &mut State, pc: usize) -> Res<Step> {
        let depth = st.frames.len();
        if depth >= MAX_CALL_FRAMES {
            return fail(
                format!("the call nests {} BPF functions (at most {MAX_CALL_FRAMES})", depth + 1),
                format!("the call stack of {} frames is too deep", depth + 1),
            );
        }
        if st.lock.is_some() {
            return fail(
                "a function is called while a bpf_spin_lock is held",
                "function calls are not allowed while holding a lock",
            );
        }
        let target = self.idx(pc)?;
        let caller = st.cur().func;
        self.calls.insert((caller, pc));
        let mut regs = [Reg::NOT_INIT; 11];
        regs[1..=5].copy_from_slice(&st.cur().regs[1..=5]);
        regs[10] = Reg::ptr(Kind::Stack { frame: depth as u8 }, 0);
        st.frames.push(Frame { regs, stack: Vec::new(), func: pc, kind: FrameKind::Call { ret_pc: idx + 1 } });
        Ok(Step::Next(target))
    }
}
