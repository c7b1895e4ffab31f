//! The path walk: a depth-first exploration of every path with pruning, plus ALU, jump and exit rules.
//!
//! Pruning bookkeeping follows the kernel's `branches` counters: every checkpoint state records how many
//! unfinished paths still descend from it. Only finished checkpoints may prune (a pending one would let a
//! loop "prove" itself); an exactly equal pending checkpoint means the path came back to where it was
//! with nothing changed, an infinite loop. Callback entries are the exception: a helper bounds how often
//! it calls back, so a callback body re-entered in a state already covered is done.

use super::report::{Fail, Res, fail, not_init};
use super::scalar::Scalar;
use super::state::{Frame, FrameKind, Kind, Reg, Slot, State};
use super::{AccessFact, COMPLEXITY_LIMIT, Facts, MAX_STACK, Rejection, VerifyInput};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::isa::{AluOp, CallTarget, Cfg, Code, Cond, Imm64, Insn, Operand, Reg as R, Width};
use std::collections::BTreeSet;
use std::fmt::Write as _;

struct Entry {
    state: State,
    pending: u32,
    parent: Option<u32>,
    hits: u32,
    misses: u32,
}

struct Pending {
    idx: usize,
    state: State,
    parent: Option<u32>,
}

/// What happens after one instruction.
pub(super) enum Step {
    /// Continue at this instruction index.
    Next(usize),
    /// This path is finished.
    Done,
}

/// The verifier's working state for one program.
pub(super) struct Verifier<'a> {
    pub inp: &'a VerifyInput<'a>,
    pub code: &'a Code,
    prune: Vec<bool>,
    visited: Vec<Vec<u32>>,
    arena: Vec<Entry>,
    work: Vec<Pending>,
    cur_parent: Option<u32>,
    processed: u64,
    next_id: u32,
    pub facts: Facts,
    /// (caller function start, callee function start) for the combined stack check.
    pub calls: BTreeSet<(usize, usize)>,
}

impl<'a> Verifier<'a> {
    /// Verifies `inp`.
    pub fn run(inp: &'a VerifyInput<'a>) -> Result<Facts, Box<Rejection>> {
        let code = inp.code;
        let whole = |msg: String, kernel: Option<String>| {
            Box::new(Rejection {
                prog: inp.name.to_string(),
                pc: None,
                insn: None,
                message: msg,
                kernel,
                state: String::new(),
                line: None,
                log: String::new(),
            })
        };
        if code.is_empty() {
            return Err(whole("the program has no instructions".into(), Some("empty program".into())));
        }
        let cfg = Cfg::new(code).map_err(|e| whole(e.to_string(), None))?;
        let n = code.len();
        let mut prune = vec![false; n];
        for (i, l) in code.insns().iter().enumerate() {
            if let Some(t) = l.insn.jump_target() {
                if let Some(ti) = code.index_of(t) {
                    prune[ti] = true;
                }
                if matches!(l.insn, Insn::Jcond { .. }) && i + 1 < n {
                    prune[i + 1] = true;
                }
            }
            if matches!(l.insn, Insn::Call(_)) && i + 1 < n {
                prune[i + 1] = true;
            }
        }
        for f in cfg.functions() {
            prune[f.first] = true;
        }
        if let Some(bad) = unreachable_insn(code) {
            let pc = code.insns()[bad].pc;
            return Err(Box::new(Rejection {
                insn: Some(code.insns()[bad].to_string()),
                pc: Some(pc),
                ..*whole(
                    format!("instruction {pc} can never run (dead code is refused, as the kernel does)"),
                    Some(format!("unreachable insn {pc}")),
                )
            }));
        }
        let mut v = Verifier {
            inp,
            code,
            prune,
            visited: vec![Vec::new(); n],
            arena: Vec::new(),
            work: Vec::new(),
            cur_parent: None,
            processed: 0,
            next_id: 0,
            facts: Facts { access: vec![None; n], reachable: vec![false; n], ..Facts::default() },
            calls: BTreeSet::new(),
        };
        v.work.push(Pending { idx: 0, state: initial_state(), parent: None });
        while let Some(p) = v.work.pop() {
            v.cur_parent = p.parent;
            v.walk(p.idx, p.state)?;
        }
        v.check_combined_stack().map_err(|f| whole(f.msg, f.kernel))?;
        v.facts.processed = v.processed;
        v.facts.states = v.arena.len();
        if inp.log_level > 0 {
            let _ = writeln!(
                v.facts.log,
                "processed {} insns (limit {}) max_states_per_insn {} total_states {}",
                v.processed,
                COMPLEXITY_LIMIT,
                v.visited.iter().map(Vec::len).max().unwrap_or(0),
                v.arena.len()
            );
        }
        Ok(v.facts)
    }

    /// A fresh link/reference id.
    pub fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    /// Starts another path at `idx` in `state`, sharing the current checkpoint.
    pub fn fork(&mut self, idx: usize, state: State) {
        if let Some(p) = self.cur_parent {
            self.arena[p as usize].pending += 1;
        }
        self.work.push(Pending { idx, state, parent: self.cur_parent });
    }

    fn finish_path(&mut self) {
        let mut e = self.cur_parent;
        while let Some(i) = e {
            let entry = &mut self.arena[i as usize];
            entry.pending -= 1;
            if entry.pending > 0 {
                break;
            }
            e = entry.parent;
        }
    }

    fn walk(&mut self, mut idx: usize, mut st: State) -> Result<(), Box<Rejection>> {
        loop {
            if self.prune[idx] {
                match self.visit(idx, &mut st) {
                    Ok(true) => {
                        if self.inp.log_level > 0 {
                            let _ = writeln!(self.facts.log, "{}: safe (covered by an explored state)", self.pc(idx));
                        }
                        self.finish_path();
                        return Ok(());
                    }
                    Ok(false) => {}
                    Err(f) => return Err(self.reject(idx, &st, f)),
                }
            }
            self.processed += 1;
            if self.processed > COMPLEXITY_LIMIT {
                let f = Fail {
                    msg: format!(
                        "the program is too complex to verify: more than {COMPLEXITY_LIMIT} instructions \
                         processed (a loop without a provable bound?)"
                    ),
                    kernel: Some(format!("BPF program is too large. Processed {} insn", COMPLEXITY_LIMIT + 1)),
                };
                return Err(self.reject(idx, &st, f));
            }
            self.facts.reachable[idx] = true;
            if self.inp.log_level > 0 {
                let l = self.code.insns()[idx];
                let _ = writeln!(self.facts.log, "{}: {}", l.pc, l);
            }
            match self.step(idx, &mut st) {
                Ok(Step::Next(n)) => {
                    if self.inp.log_level > 1 {
                        let _ = writeln!(self.facts.log, "    {}", st.to_string().replace('\n', "\n    "));
                    }
                    idx = n;
                }
                Ok(Step::Done) => {
                    self.finish_path();
                    return Ok(());
                }
                Err(f) => return Err(self.reject(idx, &st, f)),
            }
        }
    }

    /// Checks `st` against the states kept at prune point `idx`; true when it is covered.
    fn visit(&mut self, idx: usize, st: &mut State) -> Res<bool> {
        let at_callback_entry = matches!(&st.cur().kind, FrameKind::Callback { func, .. }
            if self.code.index_of(*func) == Some(idx));
        if at_callback_entry {
            // Widen the callers' scalars that changed since an earlier entry, so repeated calls converge.
            let prev = self.visited[idx]
                .iter()
                .rev()
                .map(|&e| &self.arena[e as usize].state)
                .find(|s| s.frames.len() == st.frames.len() && s.cur().kind == st.cur().kind)
                .cloned();
            if let Some(prev) = prev {
                widen(&prev, st);
            }
        }
        // States that keep failing to cover anything are dropped from the candidate list (the kernel's
        // miss/hit eviction), which keeps a long-running loop from comparing against every iteration.
        let mut i = 0;
        while i < self.visited[idx].len() {
            let e = self.visited[idx][i] as usize;
            let entry = &mut self.arena[e];
            if entry.pending == 0 || at_callback_entry {
                if entry.state.subsumes(st, false) {
                    entry.hits += 1;
                    return Ok(true);
                }
            } else if entry.state.subsumes(st, true) {
                return fail(
                    format!(
                        "infinite loop: the program comes back to instruction {} in exactly the same state",
                        self.pc(idx)
                    ),
                    format!("infinite loop detected at insn {}", self.pc(idx)),
                );
            }
            entry.misses += 1;
            if entry.misses > entry.hits * 3 + 3 {
                // Only the pending count is still needed; free the state itself.
                entry.state.frames = Vec::new();
                self.visited[idx].swap_remove(i);
            } else {
                i += 1;
            }
        }
        let id = self.arena.len() as u32;
        self.arena.push(Entry { state: st.clone(), pending: 1, parent: self.cur_parent, hits: 0, misses: 0 });
        self.visited[idx].push(id);
        self.cur_parent = Some(id);
        Ok(false)
    }

    /// Slot number of instruction `idx`.
    pub fn pc(&self, idx: usize) -> usize {
        self.code.insns()[idx].pc
    }

    /// Instruction index of slot `pc`.
    pub fn idx(&self, pc: usize) -> Res<usize> {
        match self.code.index_of(pc) {
            Some(i) => Ok(i),
            None => fail(format!("slot {pc} is not the start of an instruction"), "invalid insn idx"),
        }
    }

    fn reject(&self, idx: usize, st: &State, f: Fail) -> Box<Rejection> {
        let l = self.code.insns()[idx];
        let line = self.inp.lines.and_then(|m| m.range(..=l.pc).next_back().map(|(_, s)| s.clone()));
        let mut log = self.facts.log.clone();
        if self.inp.log_level > 0 {
            let _ = writeln!(log, "{}", f.kernel.as_deref().unwrap_or(&f.msg));
        }
        Box::new(Rejection {
            prog: self.inp.name.to_string(),
            pc: Some(l.pc),
            insn: Some(l.to_string()),
            message: f.msg,
            kernel: f.kernel,
            state: st.to_string(),
            line,
            log,
        })
    }

    /// Records an access fact, merging with earlier visits.
    pub fn record_access(&mut self, idx: usize, fact: AccessFact) {
        let slot = &mut self.facts.access[idx];
        *slot = Some(match *slot {
            None => fact,
            Some(old) => AccessFact {
                region: if old.region == fact.region { old.region } else { None },
                in_bounds: old.in_bounds && fact.in_bounds,
                const_offset: if old.const_offset == fact.const_offset { old.const_offset } else { None },
            },
        });
    }

    /// Reads register `r` for use as an operand.
    pub fn read(&self, st: &State, r: R) -> Res<Reg> {
        let reg = *st.reg(r.index());
        if reg.kind == Kind::NotInit {
            return not_init(r.index());
        }
        Ok(reg)
    }

    /// Writes register `r` (r10 is refused).
    pub fn write(&self, st: &mut State, r: R, v: Reg) -> Res<()> {
        if r == R::R10 {
            return fail("r10 is the frame pointer and cannot be written", "frame pointer is read only");
        }
        st.cur_mut().regs[r.index()] = v;
        Ok(())
    }

    fn step(&mut self, idx: usize, st: &mut State) -> Res<Step> {
        let insn = self.code.insns()[idx].insn;
        match insn {
            Insn::Alu { op, width, dst, src } => {
                self.alu(st, op, width, dst, src)?;
                Ok(Step::Next(idx + 1))
            }
            Insn::Neg { width, dst } => {
                let d = self.read(st, dst)?;
                // Privileged programs may negate a pointer; the result is a plain number.
                let v = if d.kind.is_ptr() { Scalar::UNKNOWN.truncate(width_bytes(width)) } else { d.s.neg(width) };
                self.write(st, dst, Reg::scalar(v))?;
                Ok(Step::Next(idx + 1))
            }
            Insn::MovSx { width, dst, src, from } => {
                let s = self.read(st, src)?;
                let v = if s.kind.is_ptr() {
                    Scalar::UNKNOWN
                } else {
                    let x = s.s.truncate(u32::from(from) / 8).sign_extend(u32::from(from));
                    if width == Width::W32 { x.zext32() } else { x }
                };
                let v = if width == Width::W32 { v.zext32() } else { v };
                self.write(st, dst, Reg::scalar(v))?;
                Ok(Step::Next(idx + 1))
            }
            Insn::Endian { order, bits, dst } => {
                let d = self.read(st, dst)?;
                let v = if d.kind.is_ptr() { Scalar::UNKNOWN } else { d.s };
                self.write(st, dst, Reg::scalar(v.endian(order, bits)))?;
                Ok(Step::Next(idx + 1))
            }
            Insn::Load { size, signed, dst, base, off } => {
                self.load(idx, st, size, signed, dst, base, off)?;
                Ok(Step::Next(idx + 1))
            }
            Insn::Store { size, base, off, src } => {
                self.store(idx, st, size, base, off, src)?;
                Ok(Step::Next(idx + 1))
            }
            Insn::Atomic { op, size, base, off, src } => {
                self.atomic(idx, st, op, size, base, off, src)?;
                Ok(Step::Next(idx + 1))
            }
            Insn::LdImm64 { dst, imm } => {
                let v = self.ld_imm64(imm)?;
                self.write(st, dst, v)?;
                Ok(Step::Next(idx + 1))
            }
            Insn::LdPacket { .. } => fail(
                "legacy packet access (LD_ABS/LD_IND) is not available to this program type",
                "BPF_LD_[ABS|IND] instructions not allowed for this program type",
            ),
            Insn::Ja { target, .. } => Ok(Step::Next(self.idx(target)?)),
            Insn::Jcond { cond, width, lhs, rhs, target } => self.jcond(idx, st, cond, width, lhs, rhs, target),
            Insn::Call(CallTarget::Helper(id)) => self.call_helper(idx, st, id),
            Insn::Call(CallTarget::Local(pc)) => self.call_local(idx, st, pc),
            Insn::Call(CallTarget::Kfunc { btf_id, .. }) => fail(
                format!("calls to kernel functions (kfunc BTF id {btf_id}) are not supported by bpfc"),
                "calling kernel function is not supported without CONFIG_DEBUG_INFO_BTF",
            ),
            Insn::CallX { reg } => fail(
                format!("indirect call through r{} is not supported (Linux has no callx)", reg.num()),
                "unknown opcode 8d",
            ),
            Insn::Exit => self.exit(idx, st),
        }
    }

    fn ld_imm64(&self, imm: Imm64) -> Res<Reg> {
        let map_index = |m: usize| -> Res<u32> {
            if m < self.inp.maps.len() {
                Ok(m as u32)
            } else {
                fail(
                    format!("reference to map #{m}, but the program has {} maps", self.inp.maps.len()),
                    "fd 0 is not pointing to valid bpf_map",
                )
            }
        };
        let by_fd = |fd: i32| -> Res<u32> {
            match self.inp.map_fds.iter().find(|(f, _)| *f == fd) {
                Some(&(_, m)) => map_index(m),
                None => fail(format!("no map has fd {fd}"), format!("fd {fd} is not pointing to valid bpf_map")),
            }
        };
        let value = |m: u32, off: i32| -> Res<Reg> {
            let def = &self.inp.maps[m as usize];
            if def.map_type != super::map_type::ARRAY || def.max_entries != 1 {
                return fail(
                    format!("map `{}` has no single value whose address could be taken", def.name),
                    "direct value access on this map type is not supported",
                );
            }
            if off < 0 || off as u32 >= def.value_size {
                return fail(
                    format!("offset {off} is outside the {}-byte value of map `{}`", def.value_size, def.name),
                    format!("invalid access to map value pointer, value_size={} off={off}", def.value_size),
                );
            }
            Ok(Reg::ptr(Kind::MapValue { map: m, null: false }, off))
        };
        match imm {
            Imm64::Value(v) => Ok(Reg::konst(v)),
            Imm64::MapIdx(i) => Ok(Reg::ptr(Kind::MapPtr { map: map_index(i as usize)? }, 0)),
            Imm64::MapFd(fd) => Ok(Reg::ptr(Kind::MapPtr { map: by_fd(fd)? }, 0)),
            Imm64::MapIdxValue { idx, off } => value(map_index(idx as usize)?, off),
            Imm64::MapValue { fd, off } => value(by_fd(fd)?, off),
            Imm64::Func(pc) => Ok(Reg::ptr(Kind::Func { pc: pc as u32 }, 0)),
            Imm64::BtfId { id, .. } => fail(
                format!("addresses of kernel variables (BTF id {id}) are not available in bpfc"),
                "ld_imm64 BTF id is not supported",
            ),
        }
    }

    fn alu(&mut self, st: &mut State, op: AluOp, width: Width, dst: R, src: Operand) -> Res<()> {
        let bits = if width == Width::W64 { 64 } else { 32 };
        if let Operand::Imm(imm) = src {
            if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) && (imm < 0 || imm >= bits) {
                return fail(
                    format!("shift by {imm} is out of range for a {bits}-bit operation"),
                    format!("invalid shift {imm}"),
                );
            }
            if matches!(op, AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod) && imm == 0 {
                return fail("division by the constant 0", "div by zero");
            }
        }
        let s = match src {
            Operand::Reg(r) => self.read(st, r)?,
            Operand::Imm(i) => {
                let v = if width == Width::W64 { i64::from(i) as u64 } else { u64::from(i as u32) };
                Reg::konst(v)
            }
        };
        if op == AluOp::Mov {
            let v = match (width, s.kind.is_ptr()) {
                (Width::W64, _) => {
                    let mut s = s;
                    if s.kind == Kind::Scalar
                        && s.s.value().is_none()
                        && let Operand::Reg(r) = src
                        && s.id == 0
                    {
                        s.id = self.new_id();
                        st.cur_mut().regs[r.index()].id = s.id;
                    }
                    s
                }
                (Width::W32, true) => Reg::scalar(Scalar::UNKNOWN.zext32()),
                (Width::W32, false) => Reg::scalar(s.s.zext32()),
            };
            return self.write(st, dst, v);
        }
        let d = self.read(st, dst)?;
        let v = match (d.kind.is_ptr(), s.kind.is_ptr()) {
            (false, false) => Reg::scalar(d.s.alu(op, width, &s.s)),
            (true, true) => {
                if op == AluOp::Sub {
                    // Privileged programs may subtract pointers; the result is a plain number.
                    Reg::scalar(if width == Width::W32 { Scalar::UNKNOWN.zext32() } else { Scalar::UNKNOWN })
                } else {
                    return fail(
                        format!("r{} and the source both hold pointers; only subtraction is allowed", dst.num()),
                        format!("R{} pointer {} pointer prohibited", dst.num(), op_name(op)),
                    );
                }
            }
            (true, false) => self.ptr_arith(d, &s, op, width, dst, true)?,
            (false, true) => self.ptr_arith(s, &d, op, width, dst, false)?,
        };
        self.write(st, dst, v)
    }

    fn ptr_arith(&self, p: Reg, n: &Reg, op: AluOp, width: Width, dst: R, ptr_is_dst: bool) -> Res<Reg> {
        let d = dst.num();
        let what = p.kind.name();
        if width == Width::W32 {
            if op == AluOp::Sub && ptr_is_dst {
                return Ok(Reg::scalar(Scalar::UNKNOWN.zext32()));
            }
            return fail(
                format!("32-bit arithmetic on {} (r{d}) would cut the pointer in half", p.kind.describe()),
                format!("R{d} 32-bit pointer arithmetic prohibited"),
            );
        }
        match op {
            AluOp::Add => {}
            AluOp::Sub if ptr_is_dst => {}
            AluOp::Sub => {
                return fail(
                    format!("r{d}: subtracting a pointer from a number is not allowed"),
                    format!("R{d} tried to subtract pointer from scalar"),
                );
            }
            AluOp::And | AluOp::Or | AluOp::Xor => {
                return fail(
                    format!("r{d}: bitwise {} on {} is not allowed", op_name(op), p.kind.describe()),
                    format!("R{d} bitwise operator {} on pointer prohibited", op_name(op)),
                );
            }
            _ => {
                return fail(
                    format!("r{d}: only + and - may change a pointer, not {}", op_name(op)),
                    format!("R{d} pointer arithmetic with {} operator prohibited", op_name(op)),
                );
            }
        }
        match p.kind {
            Kind::MapValue { null: true, .. } | Kind::Mem { null: true, .. } | Kind::MapPtrOrNull { .. } => {
                return fail(
                    format!("r{d} is {}: compare it with NULL before doing arithmetic on it", p.kind.describe()),
                    format!("R{d} pointer arithmetic on {what} prohibited, null-check it first"),
                );
            }
            Kind::MapPtr { .. } | Kind::Func { .. } => {
                return fail(
                    format!("r{d} is {}; arithmetic on it is meaningless", p.kind.describe()),
                    format!("R{d} pointer arithmetic on {what} prohibited"),
                );
            }
            _ => {}
        }
        const MAX_VAR_OFF: i64 = 1 << 29;
        let mut r = p;
        if let Some(c) = n.s.value() {
            let c = c as i64;
            let c = if op == AluOp::Sub { c.wrapping_neg() } else { c };
            let new = i64::from(p.off) + c;
            if c >= MAX_VAR_OFF || c <= -MAX_VAR_OFF || new >= MAX_VAR_OFF || new <= -MAX_VAR_OFF {
                return fail(
                    format!("adding {c} to {} moves it far outside any object", p.kind.describe()),
                    format!("math between {what} pointer and {c} is not allowed"),
                );
            }
            r.off = new as i32;
        } else {
            if n.s.smin == i64::MIN {
                return fail(
                    format!(
                        "r{d}: the number added to {} has no lower bound; check it first (e.g. `if (i < N)`)",
                        p.kind.describe()
                    ),
                    format!("math between {what} pointer and register with unbounded min value is not allowed"),
                );
            }
            if n.s.smin <= -MAX_VAR_OFF || n.s.smin >= MAX_VAR_OFF {
                return fail(
                    format!("r{d}: the offset {} moves {} out of bounds", n.s.smin, p.kind.describe()),
                    format!("value {} makes {what} pointer be out of bounds", n.s.smin),
                );
            }
            r.s = r.s.alu(op, Width::W64, &n.s);
        }
        Ok(r)
    }

    #[allow(clippy::too_many_arguments)]
    fn jcond(
        &mut self,
        idx: usize,
        st: &mut State,
        cond: Cond,
        width: Width,
        lhs: R,
        rhs: Operand,
        target: usize,
    ) -> Res<Step> {
        let a = self.read(st, lhs)?;
        let (b, rhs_reg) = match rhs {
            Operand::Reg(r) => (self.read(st, r)?, Some(r)),
            Operand::Imm(i) => {
                let v = if width == Width::W64 { i64::from(i) as u64 } else { u64::from(i as u32) };
                (Reg::konst(v), None)
            }
        };
        let t_idx = self.idx(target)?;
        let f_idx = idx + 1;
        // Same register on both sides: the outcome is fixed except for jset.
        if rhs_reg == Some(lhs) {
            let t = match cond {
                Cond::Eq | Cond::Ge | Cond::Le | Cond::SGe | Cond::SLe => Some(true),
                Cond::Ne | Cond::Gt | Cond::Lt | Cond::SGt | Cond::SLt => Some(false),
                Cond::Set => a.s.branch_taken(cond, width, &a.s),
            };
            return Ok(self.branch(st, t, t_idx, f_idx, |_, _| true));
        }
        if a.kind == Kind::Scalar && b.kind == Kind::Scalar {
            let taken = a.s.branch_taken(cond, width, &b.s);
            let (aid, bid) = (a.id, b.id);
            let rhs_r = rhs_reg;
            return Ok(self.branch(st, taken, t_idx, f_idx, move |s: &mut State, outcome: bool| {
                let (mut x, mut y) = (s.reg(lhs.index()).s, b.s);
                if let Some(r) = rhs_r {
                    y = s.reg(r.index()).s;
                }
                if !Scalar::refine(&mut x, &mut y, cond, width, outcome) {
                    return false;
                }
                set_scalar(s, lhs, aid, x);
                if let Some(r) = rhs_r {
                    set_scalar(s, r, bid, y);
                }
                true
            }));
        }
        // A pointer compared with 0.
        let (p, preg, other) = if a.kind.is_ptr() { (a, lhs, b) } else { (b, rhs_reg.unwrap_or(lhs), a) };
        let zero = other.kind == Kind::Scalar && other.s.value() == Some(0);
        if zero
            && matches!(cond, Cond::Eq | Cond::Ne)
            && width == Width::W64
            && p.kind.is_ptr()
            && (a.kind.is_ptr() != b.kind.is_ptr())
        {
            let nullable = matches!(
                p.kind,
                Kind::MapValue { null: true, .. } | Kind::Mem { null: true, .. } | Kind::MapPtrOrNull { .. }
            );
            if !nullable {
                // The kernel's `reg_not_null`: checked map values and records are never NULL; for other
                // pointers (stack, ctx) it explores both outcomes, and so does bpfc to agree.
                let known = matches!(p.kind, Kind::MapValue { .. } | Kind::Mem { .. }).then_some(cond == Cond::Ne);
                return Ok(self.branch(st, known, t_idx, f_idx, |_, _| true));
            }
            let id = p.id;
            let ref_id = p.ref_id;
            let _ = preg;
            return Ok(self.branch(st, None, t_idx, f_idx, move |s: &mut State, outcome: bool| {
                let is_null = outcome == (cond == Cond::Eq);
                mark_null_checked(s, id, ref_id, is_null);
                true
            }));
        }
        // Any other comparison involving a pointer: both ways, nothing learned.
        Ok(self.branch(st, None, t_idx, f_idx, |_, _| true))
    }

    /// Continues on the feasible successors of a conditional jump: `known` fixes the outcome; `refine`
    /// narrows a state to an outcome and returns false if that outcome is impossible.
    fn branch(
        &mut self,
        st: &mut State,
        known: Option<bool>,
        t_idx: usize,
        f_idx: usize,
        refine: impl Fn(&mut State, bool) -> bool,
    ) -> Step {
        match known {
            Some(true) => Step::Next(t_idx),
            Some(false) => Step::Next(f_idx),
            None => {
                let mut taken = st.clone();
                let t_ok = refine(&mut taken, true);
                let f_ok = refine(st, false);
                match (t_ok, f_ok) {
                    (true, true) => {
                        self.fork(t_idx, taken);
                        Step::Next(f_idx)
                    }
                    (true, false) => {
                        *st = taken;
                        Step::Next(t_idx)
                    }
                    (false, true) => Step::Next(f_idx),
                    (false, false) => Step::Done,
                }
            }
        }
    }

    fn exit(&mut self, idx: usize, st: &mut State) -> Res<Step> {
        let r0 = *st.reg(0);
        if r0.kind == Kind::NotInit {
            return fail("the function returns without setting r0 (the return value)", "R0 !read_ok");
        }
        let frame = st.frames.pop().expect("a state always has a frame");
        match frame.kind {
            FrameKind::Main => {
                st.frames.push(frame);
                if let Some(&(id, at)) = st.refs.first() {
                    return fail(
                        format!(
                            "the ringbuf record reserved at insn {at} is neither submitted nor discarded on this path"
                        ),
                        format!("Unreleased reference id={id} alloc_insn={at}"),
                    );
                }
                if let Some((_, _, at)) = st.lock {
                    return fail(
                        format!("the spin lock taken at insn {at} is still held at exit"),
                        "bpf_spin_unlock is missing",
                    );
                }
                if r0.kind.is_ptr() {
                    return fail(
                        format!("the program returns {} (r0); a program must return a number", r0.kind.describe()),
                        "R0 leaks addr as return value",
                    );
                }
                let _ = idx;
                Ok(Step::Done)
            }
            FrameKind::Call { ret_pc } => {
                if r0.kind != Kind::Scalar {
                    return fail(
                        format!("the function returns {} in r0; BPF functions must return numbers", r0.kind.describe()),
                        format!("At subprogram exit the register R0 is not a scalar value ({})", r0.kind.name()),
                    );
                }
                let caller = st.cur_mut();
                caller.regs[0] = Reg::scalar(r0.s);
                for r in &mut caller.regs[1..=5] {
                    *r = Reg::NOT_INIT;
                }
                Ok(Step::Next(ret_pc))
            }
            FrameKind::Callback { call_pc, func, args } => {
                if r0.kind != Kind::Scalar || r0.s.smin < 0 || r0.s.smax > 1 {
                    return fail(
                        format!("a callback must return 0 (continue) or 1 (stop), but r0 is {r0}"),
                        format!("At callback return the register R0 has {r0} should have been in [0, 1]"),
                    );
                }
                let call_idx = self.idx(call_pc)?;
                let mut after = st.clone();
                {
                    let caller = after.cur_mut();
                    caller.regs[0] = Reg::unknown();
                    for r in &mut caller.regs[1..=5] {
                        *r = Reg::NOT_INIT;
                    }
                }
                self.fork(call_idx + 1, after);
                // Call the callback again.
                let depth = st.frames.len() as u8;
                let mut regs = [Reg::NOT_INIT; 11];
                regs[1..=5].copy_from_slice(&args);
                regs[10] = Reg::ptr(Kind::Stack { frame: depth }, 0);
                st.frames.push(Frame {
                    regs,
                    stack: Vec::new(),
                    func,
                    kind: FrameKind::Callback { call_pc, func, args },
                });
                Ok(Step::Next(self.idx(func)?))
            }
        }
    }

    /// The combined stack of a call chain, for program types whose frames share one kernel stack.
    /// Kprobe, tracepoint, raw tracepoint and perf_event programs get private stacks for every function
    /// using 64 bytes or more on x86_64 (Linux ≥ 6.13), which makes the combined limit unreachable for
    /// them; bpfc's runtime gives every frame its own 512 bytes anyway.
    fn check_combined_stack(&self) -> Res<()> {
        if matches!(
            self.inp.prog_type,
            ProgType::Kprobe | ProgType::Tracepoint | ProgType::RawTracepoint | ProgType::PerfEvent | ProgType::Unspec
        ) {
            return Ok(());
        }
        fn round(d: u32) -> i64 {
            (i64::from(d.max(1)) + 31) / 32 * 32
        }
        let depth = |f: usize| round(self.facts.stack_depth.get(&f).copied().unwrap_or(0));
        // Longest chain by DFS; recursion was already bounded by the frame limit.
        let mut stack = vec![(self.code.insns()[0].pc, depth(0), 0usize)];
        while let Some((f, total, n)) = stack.pop() {
            if total > MAX_STACK {
                return fail(
                    format!("the call chain needs {total} bytes of stack (more than {MAX_STACK}) over {n} calls"),
                    format!("combined stack size of {} calls is {total}. Too large", n + 1),
                );
            }
            if n > super::MAX_CALL_FRAMES {
                continue;
            }
            for &(_, callee) in self.calls.range((f, 0)..=(f, usize::MAX)) {
                stack.push((callee, total + depth(callee), n + 1));
            }
        }
        Ok(())
    }
}

fn width_bytes(w: Width) -> u32 {
    if w == Width::W64 { 8 } else { 4 }
}

fn op_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div | AluOp::SDiv => "/=",
        AluOp::Mod | AluOp::SMod => "%=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Xor => "^=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Arsh => "s>>=",
        AluOp::Mov => "=",
    }
}

fn initial_state() -> State {
    let mut regs = [Reg::NOT_INIT; 11];
    regs[1] = Reg::ptr(Kind::Ctx, 0);
    regs[10] = Reg::ptr(Kind::Stack { frame: 0 }, 0);
    State {
        frames: vec![Frame { regs, stack: Vec::new(), func: 0, kind: FrameKind::Main }],
        refs: Vec::new(),
        lock: None,
    }
}

/// Sets register `r` to `v` and narrows its linked copies (same id) the same way.
fn set_scalar(st: &mut State, r: R, id: u32, v: Scalar) {
    st.cur_mut().regs[r.index()].s = v;
    if id != 0 {
        st.for_each_reg(|x| {
            if x.kind == Kind::Scalar && x.id == id {
                x.s = v;
            }
        });
    }
}

/// After `p == NULL` / `p != NULL` on a nullable pointer: every copy becomes 0 or a valid pointer.
fn mark_null_checked(st: &mut State, id: u32, ref_id: u32, is_null: bool) {
    st.for_each_reg(|x| {
        if x.id == id
            && id != 0
            && matches!(
                x.kind,
                Kind::MapValue { null: true, .. } | Kind::Mem { null: true, .. } | Kind::MapPtrOrNull { .. }
            )
        {
            if is_null {
                *x = Reg::konst(0);
            } else {
                x.kind = match x.kind {
                    Kind::MapValue { map, .. } => Kind::MapValue { map, null: false },
                    Kind::Mem { size, .. } => Kind::Mem { size, null: false },
                    Kind::MapPtrOrNull { map } => Kind::MapPtr { map },
                    k => k,
                };
                x.id = 0;
            }
        }
    });
    if is_null && ref_id != 0 {
        st.refs.retain(|(r, _)| *r != ref_id);
    }
}

/// Replaces callers' scalars that differ between two entries of the same callback with unknowns.
fn widen(prev: &State, cur: &mut State) {
    let n = cur.frames.len().saturating_sub(1);
    for (pf, cf) in prev.frames.iter().zip(cur.frames.iter_mut()).take(n) {
        for (p, c) in pf.regs.iter().zip(cf.regs.iter_mut()) {
            if p.kind == Kind::Scalar && c.kind == Kind::Scalar && !p.s.contains(&c.s) {
                *c = Reg::unknown();
            }
        }
        for i in 0..cf.stack.len() {
            let p: Slot = pf.slot(i);
            let c = &mut cf.stack[i];
            if p.is_spill()
                && c.is_spill()
                && p.spill.kind == Kind::Scalar
                && c.spill.kind == Kind::Scalar
                && !p.spill.s.contains(&c.spill.s)
            {
                c.spill = Reg::unknown();
            }
        }
    }
}

/// The first instruction no control-flow path from the entry reaches, as the kernel's `check_cfg`.
fn unreachable_insn(code: &Code) -> Option<usize> {
    let n = code.len();
    let mut seen = vec![false; n];
    let mut work = vec![0usize];
    while let Some(i) = work.pop() {
        if i >= n || seen[i] {
            continue;
        }
        seen[i] = true;
        let insn = code.insns()[i].insn;
        if let Some(t) = insn.jump_target()
            && let Some(ti) = code.index_of(t)
        {
            work.push(ti);
        }
        match insn {
            Insn::Call(CallTarget::Local(t)) | Insn::LdImm64 { imm: Imm64::Func(t), .. } => {
                if let Some(ti) = code.index_of(t) {
                    work.push(ti);
                }
            }
            _ => {}
        }
        if insn.falls_through() {
            work.push(i + 1);
        }
    }
    seen.iter().position(|s| !s)
}
