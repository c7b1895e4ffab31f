//! Running programs: builds the per-invocation [`Env`] and stack, runs interpreted ([`run_interp`]) or
//! native ([`run_native`]) code, turns the final `env.status` into an [`Outcome`], and gives helper
//! implementations a safe view of the invocation ([`HelperCtx`], [`declare_helper!`]).
//!
//! Both runners build the same machine, so interpreted and native runs are comparable bit for bit:
//! a zeroed, 16-byte-aligned stack area of [`STACK_AREA`] bytes (r10 of the entry frame is its end), the
//! context passed as r1 with its length in r2 (r1 = 0 when there is none), `env.check` =
//! [`mem::check_access`], status `RUNNING`, and the [`Machine`]'s budget. After the run, `env.status`
//! decides the outcome: `EXIT` → the helper's exit value, `TAIL_CALL` → the target, `TRAP` → the trap
//! record, otherwise the returned r0.
//!
//! Safety model: `unsafe` here is limited to (1) handing the stack and ctx to [`mem::Bounds`], (2)
//! calling [`HelperFn`]s and native entries with a live `Env`, (3) rebuilding a `&mut Env` inside a
//! helper. The [`Machine`]'s raw tables (`maps`, `map_values`, `regions`, `host`) are trusted: whoever
//! fills them vouches that they point to live memory for the duration of the run, exactly as a kernel
//! map fd vouches for its map.

use crate::abi::{
    ABI_VERSION, EntryFn, Env, EventMeta, HelperFn, Region, STACK_AREA, STATUS_EXIT, STATUS_RUNNING, STATUS_TAIL_CALL,
    STATUS_TRAP, TrapCode, TrapInfo,
};
use crate::helpers::HelperTable;
use crate::interp;
use crate::isa::Code;
use crate::mem::{self, Bounds, Fault};
use std::ffi::c_void;

/// Instruction budget of a [`Machine`] unless set otherwise.
pub const DEFAULT_BUDGET: u64 = 1_000_000;

/// `TrapInfo::pc` written by [`HelperCtx::trap`]/[`HelperCtx::fault`]: a helper does not know its call
/// site, so the runner replaces it with the slot of the call — the interpreter does; native code must do
/// the same on its status check after a helper call for the two to agree.
pub const TRAP_PC_UNKNOWN: u32 = u32::MAX;

/// Everything an invocation is bound to besides its code and context.
#[derive(Clone, Copy, Debug)]
pub struct Machine<'a> {
    /// Helper implementations by id.
    pub helpers: &'a HelperTable,
    /// Map handles by map index (`lddw src=5`, and what map helpers receive).
    pub maps: &'a [*mut c_void],
    /// Value addresses by map index (`lddw src=6`), null for maps without a direct value.
    pub map_values: &'a [*mut u8],
    /// Memory besides stack and ctx that the program may touch (map storage, global data).
    pub regions: &'a [Region],
    /// The runtime's private state for helpers: null, or a live [`crate::helpers::HostState`] for the
    /// whole run (helpers read it through [`HelperCtx::host_state`]).
    pub host: *mut c_void,
    /// The event the program runs on.
    pub event: EventMeta,
    /// Instruction budget (charged per basic block).
    pub budget: u64,
    /// Whether the program may write its context (tracing contexts are read-only, as in the kernel).
    pub ctx_writable: bool,
    /// Tail calls already taken in this chain (the dispatcher carries it from program to program).
    pub tail_call_count: u64,
    /// Start the invocation with a zeroed stack area (the interpreter's semantics). Code the verifier
    /// accepted never reads stack bytes it did not write, so it may skip the 4 KiB clear.
    pub zero_stack: bool,
}

impl<'a> Machine<'a> {
    /// A machine with the given helpers, no maps or regions, a null host and [`DEFAULT_BUDGET`].
    pub fn new(helpers: &'a HelperTable) -> Self {
        Machine {
            helpers,
            maps: &[],
            map_values: &[],
            regions: &[],
            host: std::ptr::null_mut(),
            event: EventMeta::default(),
            budget: DEFAULT_BUDGET,
            ctx_writable: true,
            tail_call_count: 0,
            zero_stack: true,
        }
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The program returned (or a helper stopped it) with this r0.
    Exit(u64),
    /// The program stopped abnormally.
    Trap(TrapInfo),
    /// `bpf_tail_call` succeeded: the runtime runs program `target` next.
    TailCall {
        /// Program index recorded by the helper.
        target: u64,
    },
}

impl Outcome {
    /// The trap code, when the outcome is a trap with a known code.
    pub fn trap_code(&self) -> Option<TrapCode> {
        match self {
            Outcome::Trap(t) => TrapCode::from_u32(t.code),
            _ => None,
        }
    }
}

/// The per-invocation stack area. Aligned to 16 so every frame's r10 is 16-aligned, like a kernel stack.
#[repr(C, align(16))]
struct StackArea([u8; STACK_AREA]);

/// Builds the Env for one invocation whose stack area starts at `stack` (provenance exposed).
fn new_env(m: &Machine, stack_base: u64, ctx: u64, ctx_len: u64) -> Env {
    Env {
        version: u64::from(ABI_VERSION),
        helpers: m.helpers.as_ptr(),
        maps: m.maps.as_ptr(),
        map_values: m.map_values.as_ptr(),
        stack_top: stack_base + STACK_AREA as u64,
        stack_base,
        ctx,
        ctx_len,
        ctx_writable: u64::from(m.ctx_writable),
        regions: m.regions.as_ptr(),
        region_count: m.regions.len() as u64,
        check: Some(mem::check_access),
        status: STATUS_RUNNING,
        exit_value: 0,
        tail_call_target: 0,
        tail_call_count: m.tail_call_count,
        budget: m.budget,
        trap: TrapInfo::default(),
        event: m.event,
        host: m.host,
        callback_fp: stack_base + (STACK_AREA - crate::abi::STACK_SIZE) as u64,
    }
}

/// The outcome recorded in `env` after a run that returned `r0`.
fn outcome(env: &Env, r0: u64) -> Outcome {
    match env.status {
        STATUS_EXIT => Outcome::Exit(env.exit_value),
        STATUS_TAIL_CALL => Outcome::TailCall { target: env.tail_call_target },
        STATUS_TRAP => Outcome::Trap(env.trap),
        _ => Outcome::Exit(r0),
    }
}

/// Runs `f` on a fresh invocation of `m` with `ctx`, then reads the outcome.
fn with_invocation(m: &Machine, ctx: &mut [u8], f: impl FnOnce(&mut Env, Bounds<'_>) -> u64) -> Outcome {
    // One stack area per thread, reused (a nested invocation on the same thread gets a fresh one).
    let mut stack = STACK_POOL.with(|p| p.borrow_mut().pop()).unwrap_or_else(|| Box::new(StackArea([0; STACK_AREA])));
    if m.zero_stack {
        stack.0.fill(0);
    }
    let stack_base = stack.0.as_mut_ptr().expose_provenance() as u64;
    let ctx_ptr = if ctx.is_empty() { 0 } else { ctx.as_mut_ptr().expose_provenance() as u64 };
    let mut env = new_env(m, stack_base, ctx_ptr, ctx.len() as u64);
    // SAFETY: the stack area is a local that outlives the run and is only reached through these
    // addresses; `ctx` is exclusively borrowed for the whole run and not touched through the slice
    // meanwhile; the regions are the Machine's, which its builder vouches for (module docs).
    let bounds =
        unsafe { Bounds::new(stack_base, env.stack_top, ctx_ptr, ctx.len() as u64, m.ctx_writable, m.regions) };
    let r0 = f(&mut env, bounds);
    let result = outcome(&env, r0);
    STACK_POOL.with(|p| p.borrow_mut().push(stack));
    result
}

thread_local! {
    /// Stack areas of finished invocations, reused by the next ones on this thread.
    static STACK_POOL: std::cell::RefCell<Vec<Box<StackArea>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Interprets `code` from slot 0 with `ctx` as r1 (and its length as r2). Code whose function structure
/// is invalid (see [`crate::isa::Cfg`]) is not run: it yields a `FellOffEnd` trap naming the offending
/// slot. Use [`interp::Program::new`] + [`run_program`] to get that as an error instead.
pub fn run_interp(m: &Machine, code: &Code, ctx: &mut [u8]) -> Outcome {
    match interp::Program::new(code) {
        Ok(p) => run_program(m, &p, ctx),
        Err(e) => {
            Outcome::Trap(TrapInfo { code: TrapCode::FellOffEnd as u32, pc: e.pc() as u32, detail: 0, access: 0 })
        }
    }
}

/// What a callback run by a helper needs to re-enter the interpreter: the program and the Machine's tables
/// of the interpretation running on this thread.
#[derive(Clone, Copy)]
struct InterpRun {
    program: *const interp::Program,
    helpers: *const HelperTable,
    maps: *const [*mut c_void],
    map_values: *const [*mut u8],
    regions: *const [Region],
}

thread_local! {
    static INTERP_RUN: std::cell::Cell<Option<InterpRun>> = const { std::cell::Cell::new(None) };
}

/// Interprets an already validated program.
pub fn run_program(m: &Machine, p: &interp::Program, ctx: &mut [u8]) -> Outcome {
    let run = InterpRun { program: p, helpers: m.helpers, maps: m.maps, map_values: m.map_values, regions: m.regions };
    let outer = INTERP_RUN.with(|r| r.replace(Some(run)));
    let outcome = with_invocation(m, ctx, |env, bounds| {
        let mut vm = Vm { env, bounds, helpers: m.helpers, maps: m.maps, map_values: m.map_values };
        interp::execute(p, &mut vm)
    });
    INTERP_RUN.with(|r| r.set(outer));
    outcome
}

/// The engine hook helpers use to run BPF callbacks ([`crate::helpers::CallbackRunner`]), for both
/// engines: interpreter function values (`INTERP_FUNC_TAG | slot`) re-enter the interpretation running on
/// this thread; anything else must be a native trampoline the binding registered
/// ([`crate::helpers::HostState::allow_native_callbacks`]) and is called with the helper ABI. Both run in
/// the frame `env.callback_fp` names and restore it afterwards; a ninth frame traps `CallDepth`.
pub fn run_callback(cx: &mut HelperCtx<'_>, func: u64, args: [u64; 5]) -> Option<u64> {
    let fp = cx.env.callback_fp;
    if func & 0xffff_ffff_0000_0000 == crate::abi::INTERP_FUNC_TAG {
        let run = INTERP_RUN.with(|r| r.get())?;
        // SAFETY: `run` was published by `run_program` on this thread for the interpretation that is
        // executing the helper calling us; its program and tables outlive that run.
        let (program, helpers, maps, map_values, regions) =
            unsafe { (&*run.program, &*run.helpers, &*run.maps, &*run.map_values, &*run.regions) };
        let index = program.callback_index(func & 0xffff_ffff)?;
        if fp.checked_sub(crate::abi::STACK_SIZE as u64).is_none_or(|bottom| bottom < cx.env.stack_base) {
            cx.trap(TrapCode::CallDepth, 0);
            return Some(0);
        }
        let env = &mut *cx.env;
        // SAFETY: the same ranges `with_invocation` vouched for when this invocation started.
        let bounds =
            unsafe { Bounds::new(env.stack_base, env.stack_top, env.ctx, env.ctx_len, env.ctx_writable != 0, regions) };
        let mut vm = Vm { env, bounds, helpers, maps, map_values };
        let result = interp::run_callback(program, &mut vm, index, args, fp);
        cx.env.callback_fp = fp;
        return Some(match result {
            Ok(r0) => r0,
            Err(t) => {
                cx.env.trap = t;
                cx.env.status = STATUS_TRAP;
                0
            }
        });
    }
    if !cx.host_state().is_some_and(|h| h.is_native_callback(func)) {
        return None;
    }
    // SAFETY: `func` is a trampoline address the binding registered from the code it loaded (JIT or
    // shared object), emitted with the `HelperFn` ABI; that code outlives every invocation of the binding.
    let f = unsafe { std::mem::transmute::<u64, HelperFn>(func) };
    let env: *mut Env = cx.env;
    // SAFETY: `env` is the live invocation block; the helper that called us holds no other reference to
    // it while the callback runs (HelperFn contract).
    let r0 = unsafe { f(env, args[0], args[1], args[2], args[3], args[4]) };
    cx.env.callback_fp = fp;
    Some(r0)
}

/// The interpreter's handle on a running invocation: memory through [`Bounds`], helpers through the
/// live `Env`.
pub(crate) struct Vm<'r, 'm> {
    env: &'r mut Env,
    bounds: Bounds<'m>,
    helpers: &'m HelperTable,
    maps: &'m [*mut c_void],
    map_values: &'m [*mut u8],
}

impl Vm<'_, '_> {
    pub(crate) fn stack_top(&self) -> u64 {
        self.env.stack_top
    }

    pub(crate) fn stack_base(&self) -> u64 {
        self.env.stack_base
    }

    pub(crate) fn ctx(&self) -> (u64, u64) {
        (self.env.ctx, self.env.ctx_len)
    }

    pub(crate) fn budget(&self) -> u64 {
        self.env.budget
    }

    pub(crate) fn set_budget(&mut self, budget: u64) {
        self.env.budget = budget;
    }

    /// Publishes the state a helper's callbacks need: the remaining budget and the next frame's top.
    pub(crate) fn before_helper(&mut self, budget: u64, callback_fp: u64) {
        self.env.budget = budget;
        self.env.callback_fp = callback_fp;
    }

    pub(crate) fn mem(&self) -> &Bounds<'_> {
        &self.bounds
    }

    pub(crate) fn map(&self, idx: i32) -> Option<u64> {
        usize::try_from(idx).ok().and_then(|i| self.maps.get(i)).map(|p| p.expose_provenance() as u64)
    }

    pub(crate) fn map_value(&self, idx: i32) -> Option<u64> {
        let p = usize::try_from(idx).ok().and_then(|i| self.map_values.get(i))?;
        (!p.is_null()).then(|| p.expose_provenance() as u64)
    }

    /// The helper bound to `id`, if any.
    pub(crate) fn helper(&self, id: u64) -> Option<HelperFn> {
        u32::try_from(id).ok().and_then(|id| self.helpers.get(id))
    }

    /// Calls a helper with the live env. Returns its r0; the caller checks [`Vm::running`] afterwards.
    pub(crate) fn call(&mut self, f: HelperFn, pc: usize, args: [u64; 5]) -> u64 {
        let env: *mut Env = self.env;
        // SAFETY: `env` is the live invocation block built by `with_invocation`, every table it points to
        // outlives the run, and we hold no other reference to it during the call (HelperFn contract).
        let r0 = unsafe { f(env, args[0], args[1], args[2], args[3], args[4]) };
        if self.env.status == STATUS_TRAP && self.env.trap.pc == TRAP_PC_UNKNOWN {
            self.env.trap.pc = pc as u32;
        }
        r0
    }

    /// Whether no helper asked the program to stop.
    pub(crate) fn running(&self) -> bool {
        self.env.status == STATUS_RUNNING
    }

    /// Records a trap and stops the program.
    pub(crate) fn trap(&mut self, t: TrapInfo) {
        self.env.trap = t;
        self.env.status = STATUS_TRAP;
    }
}

/// A native program entry (JIT or AOT code following the [`crate::abi`] contract). Deliberately not
/// `Clone`: whoever owns the code memory owns the entry and only lends it out by reference.
#[derive(Debug)]
pub struct NativeEntry(EntryFn);

impl NativeEntry {
    /// Wraps the address of a bpfc entry function.
    ///
    /// # Safety
    /// `code` must be the address of a function with the [`EntryFn`] signature generated by bpfc for the
    /// current [`ABI_VERSION`], and it must stay alive (and executable) while the entry is used.
    pub unsafe fn from_raw(code: *const u8) -> NativeEntry {
        // SAFETY: the caller guarantees `code` is an `EntryFn`; fn pointers and data pointers have the
        // same size on every supported target.
        NativeEntry(unsafe { std::mem::transmute::<*const u8, EntryFn>(code) })
    }

    /// The function pointer.
    pub fn as_fn(&self) -> EntryFn {
        self.0
    }
}

/// Runs native code on a fresh invocation (same Env, stack and outcome rules as [`run_interp`]).
pub fn run_native(m: &Machine, entry: &NativeEntry, ctx: &mut [u8]) -> Outcome {
    with_invocation(m, ctx, |env, _bounds| {
        let f = entry.0;
        let ctx = env.ctx;
        // SAFETY: `NativeEntry::from_raw`'s contract makes `f` a live bpfc entry; `env` is a fully built
        // invocation block whose stack, ctx and tables outlive the call.
        unsafe { f(ctx, env) }
    })
}

/// A helper's safe view of the invocation that called it.
#[derive(Debug)]
pub struct HelperCtx<'e> {
    env: &'e mut Env,
}

impl<'e> HelperCtx<'e> {
    /// Runs a safe helper body on the raw arguments of a [`HelperFn`] call. Used by [`declare_helper!`].
    /// A null `env` yields 0; a panicking body becomes a `HelperFault` trap instead of unwinding into
    /// generated code.
    ///
    /// # Safety
    /// `env` must be null or the live `Env` of the invocation calling the helper, built by this module
    /// (its tables valid for the whole call), with no other reference to it in use during the call.
    pub unsafe fn dispatch(
        env: *mut Env,
        args: [u64; 5],
        f: fn(&mut HelperCtx<'_>, u64, u64, u64, u64, u64) -> u64,
    ) -> u64 {
        if env.is_null() {
            return 0;
        }
        // SAFETY: guaranteed by the caller (see above).
        let env = unsafe { &mut *env };
        let mut cx = HelperCtx { env };
        let [a, b, c, d, e] = args;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut cx, a, b, c, d, e))) {
            Ok(r0) => r0,
            Err(_) => {
                cx.trap(TrapCode::HelperFault, 0);
                0
            }
        }
    }

    fn bounds(&self) -> Bounds<'_> {
        // SAFETY: a HelperCtx only exists for an env built by this module (contract of `dispatch`).
        unsafe { Bounds::from_env(self.env) }
    }

    /// Copies `len` bytes of program-visible memory at `addr`. The range is checked before anything is
    /// allocated, so a BPF-controlled length cannot exhaust memory.
    pub fn read(&self, addr: u64, len: usize) -> Result<Vec<u8>, Fault> {
        if !self.check(addr, len as u64, false) {
            return Err(Fault::OutOfBounds);
        }
        let mut buf = vec![0; len];
        self.bounds().read_into(addr, &mut buf)?;
        Ok(buf)
    }

    /// Copies program-visible memory at `addr` into `buf`.
    pub fn read_into(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.bounds().read_into(addr, buf)
    }

    /// Writes `bytes` to program-visible memory at `addr`.
    pub fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), Fault> {
        self.bounds().write_from(addr, bytes)
    }

    /// Whether `[addr, addr + len)` is accessible (for writing if `write`).
    pub fn check(&self, addr: u64, len: u64, write: bool) -> bool {
        self.bounds().check(addr, len, write)
    }

    /// The event the program runs on.
    pub fn event(&self) -> &EventMeta {
        &self.env.event
    }

    /// The runtime's private state (`Machine::host`).
    pub fn host(&self) -> *mut c_void {
        self.env.host
    }

    /// The runtime's helper state, when the machine was bound with one: `Machine::host` is null or
    /// points to a live [`crate::helpers::HostState`] (see [`crate::helpers::HostState::as_host_ptr`]).
    pub fn host_state(&self) -> Option<&'e crate::helpers::HostState> {
        let p = self.env.host.cast::<crate::helpers::HostState>().cast_const();
        // SAFETY: the Machine contract: `host` is null or a HostState that outlives the invocation ('e);
        // HostState is Sync and only ever shared immutably.
        unsafe { p.as_ref() }
    }

    /// Read access to the whole invocation block.
    pub fn env(&self) -> &Env {
        self.env
    }

    /// Stops the program: it ends as if its entry function returned `value`.
    pub fn stop_with(&mut self, value: u64) {
        self.env.exit_value = value;
        self.env.status = STATUS_EXIT;
    }

    /// Stops the program so that the runtime runs program `target` next (`bpf_tail_call`).
    pub fn tail_call(&mut self, target: u64) {
        self.env.tail_call_target = target;
        self.env.tail_call_count += 1;
        self.env.status = STATUS_TAIL_CALL;
    }

    /// Stops the program with a trap; the runner fills in the call site.
    pub fn trap(&mut self, code: TrapCode, detail: u64) {
        self.env.trap = TrapInfo { code: code as u32, pc: TRAP_PC_UNKNOWN, detail, access: 0 };
        self.env.status = STATUS_TRAP;
    }

    /// Stops the program with the trap for a failed access of `len` bytes at `addr`.
    pub fn fault(&mut self, fault: Fault, addr: u64, len: usize, write: bool) {
        self.env.trap = fault.trap(addr, mem::access_info(len.min(0xff), write, false, TRAP_PC_UNKNOWN));
        self.env.status = STATUS_TRAP;
    }
}

/// Declares a [`HelperFn`] named `$name` that runs the safe body `$body:
/// fn(&mut HelperCtx, u64, u64, u64, u64, u64) -> u64`.
///
/// ```
/// use bpfc_runtime::{declare_helper, exec::HelperCtx};
/// fn add(_cx: &mut HelperCtx<'_>, a: u64, b: u64, _: u64, _: u64, _: u64) -> u64 { a.wrapping_add(b) }
/// declare_helper!(pub add_helper => add);
/// let mut t = bpfc_runtime::helpers::HelperTable::empty();
/// t.set(1, add_helper);
/// ```
#[macro_export]
macro_rules! declare_helper {
    ($(#[$meta:meta])* $vis:vis $name:ident => $body:path) => {
        $(#[$meta])*
        ///
        /// # Safety
        /// A [`HelperFn`]($crate::abi::HelperFn): `env` must be null or the live `Env` of the calling
        /// invocation, built by `bpfc_runtime::exec`.
        $vis unsafe extern "C" fn $name(
            env: *mut $crate::abi::Env,
            r1: u64,
            r2: u64,
            r3: u64,
            r4: u64,
            r5: u64,
        ) -> u64 {
            // SAFETY: the HelperFn contract: `env` is the live Env of the invocation that called us.
            unsafe { $crate::exec::HelperCtx::dispatch(env, [r1, r2, r3, r4, r5], $body) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{STACK_SIZE, STATUS_TRAP};

    /// Stands in for generated code: checks the Env it was given, then does what the ctx length selects.
    unsafe extern "C" fn fake_entry(ctx: u64, env: *mut Env) -> u64 {
        // SAFETY: run_native passes the live Env.
        let env = unsafe { &mut *env };
        let ok = env.version == u64::from(ABI_VERSION)
            && env.stack_top.is_multiple_of(16)
            && env.stack_top - env.stack_base == STACK_AREA as u64
            && env.ctx == ctx
            && env.ctx_writable == 1
            && env.status == STATUS_RUNNING
            && env.budget == 1234
            && env.check.is_some();
        if !ok {
            return u64::MAX;
        }
        match env.ctx_len {
            // Plain return: r0 = ctx length marker.
            1 => 42,
            // A store just below r10 is allowed, one at r10 traps through env.check.
            2 => {
                let check = env.check.expect("checked above");
                let top = env.stack_top;
                // SAFETY: `check` is mem::check_access, called with the live env.
                let below = unsafe { check(env, top - 8, crate::mem::access_info(8, true, false, 3)) };
                // SAFETY: as above.
                let at = unsafe { check(env, top, crate::mem::access_info(8, true, false, 4)) };
                if below == 1 && at == 0 { 0 } else { u64::MAX }
            }
            // A helper call through the table.
            3 => {
                // SAFETY: env.helpers is the Machine's table of HELPER_TABLE_LEN entries.
                let f = unsafe { *env.helpers.add(7) }.expect("helper 7 bound");
                // SAFETY: HelperFn contract: the live env.
                unsafe { f(env, 5, 0, 0, 0, 0) }
            }
            _ => u64::MAX,
        }
    }

    fn stop_body(cx: &mut HelperCtx<'_>, r1: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
        if r1 == 5 {
            cx.stop_with(99);
        }
        r1
    }
    crate::declare_helper!(stop_helper => stop_body);

    #[test]
    fn native_runs_get_the_same_env_and_outcome_mapping() {
        let mut helpers = HelperTable::empty();
        helpers.set(7, stop_helper);
        let mut m = Machine::new(&helpers);
        m.budget = 1234;
        // SAFETY: fake_entry has the EntryFn signature and is 'static.
        let entry = unsafe { NativeEntry::from_raw(fake_entry as *const u8) };
        assert_eq!(run_native(&m, &entry, &mut [0]), Outcome::Exit(42));
        let o = run_native(&m, &entry, &mut [0, 0]);
        let Outcome::Trap(t) = o else { panic!("{o:?}") };
        assert_eq!((t.code, t.pc, t.access), (TrapCode::OutOfBounds as u32, 4, 8 | 0x100));
        assert_eq!(run_native(&m, &entry, &mut [0, 0, 0]), Outcome::Exit(99), "helper's stop_with wins");
    }

    #[test]
    fn outcome_follows_env_status() {
        let h = HelperTable::empty();
        let mut env = new_env(&Machine::new(&h), 4096, 0, 0);
        assert_eq!(outcome(&env, 3), Outcome::Exit(3));
        env.status = STATUS_EXIT;
        env.exit_value = 8;
        assert_eq!(outcome(&env, 3), Outcome::Exit(8));
        env.status = STATUS_TAIL_CALL;
        env.tail_call_target = 2;
        assert_eq!(outcome(&env, 3), Outcome::TailCall { target: 2 });
        env.status = STATUS_TRAP;
        env.trap = TrapInfo { code: 2, pc: 1, detail: 0, access: 0 };
        assert_eq!(outcome(&env, 3), Outcome::Trap(env.trap));
        assert_eq!(env.stack_top, 4096 + (STACK_SIZE * crate::abi::MAX_FRAMES) as u64);
    }
}
