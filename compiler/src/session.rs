//! A loaded object ready to run on one engine: the compiled (or interpreted) programs and the binding of
//! its maps. `bpfc run`, `bpfc test` and the testsuite drive every engine through this one type, so the
//! engines differ only in how code executes — never in how maps, helpers or events are set up.

use crate::emit::jit::JitProgram;
use crate::emit::object::{ObjectSource, build_object, link_shared};
use crate::emit::{CodegenOptions, EmitError, ProgramSource};
use crate::input::Input;
use crate::lower::LowerOptions;
use crate::pipeline::Safety;
use crate::records::RecordTypes;
use bpfc_runtime::abi::{EventMeta, ProgType};
use bpfc_runtime::bind::{BindError, Binding, RunReport, Runnable, ctx_writable};
use bpfc_runtime::ctx::{Arch, CtxLayout};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::interp::Program as InterpProgram;
use bpfc_runtime::native::{NativeError, NativeLibrary};
use std::fmt::Write as _;
use std::path::PathBuf;

/// How programs execute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// The reference interpreter.
    Interp,
    /// Cranelift JIT in this process.
    Jit,
    /// A native object linked into a shared library and loaded with `dlopen`.
    Aot,
}

impl Engine {
    /// The engine's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Interp => "interp",
            Engine::Jit => "jit",
            Engine::Aot => "aot",
        }
    }

    /// Every engine, in comparison order.
    pub const ALL: [Engine; 3] = [Engine::Interp, Engine::Jit, Engine::Aot];

    /// The engine called `name`.
    pub fn from_name(name: &str) -> Option<Engine> {
        Engine::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// Why a session could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Compiling failed.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// Loading the shared library failed.
    #[error(transparent)]
    Native(#[from] NativeError),
    /// Binding the maps failed.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A program could not be prepared for the interpreter.
    #[error("program `{program}`: {message}")]
    Interp {
        /// Program name.
        program: String,
        /// Why.
        message: String,
    },
    /// The verifier refused a program (or its context is unknown).
    #[error(transparent)]
    Gate(#[from] crate::pipeline::GateError),
    /// Writing build products failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Lets helpers run the native callback trampolines of `code` (and only those).
fn register_callbacks(code: &Code, binding: &Binding) {
    match code {
        Code::Interp(_) => {}
        Code::Jit(jit) => binding.host().allow_native_callbacks(jit.callbacks().iter().copied()),
        Code::Aot(lib) => {
            binding.host().allow_native_callbacks(lib.programs.iter().flat_map(|p| p.callbacks.iter().copied()))
        }
    }
}

enum Code {
    Interp(Vec<InterpProgram>),
    Jit(Box<JitProgram>),
    Aot(NativeLibrary),
}

/// Programs of one object on one engine, with their maps bound.
pub struct Session {
    /// Program names, sections and types, in object order.
    pub programs: Vec<(String, String, ProgType)>,
    engine: Engine,
    code: Code,
    binding: Binding,
    records: Option<RecordTypes>,
    /// Per program: the context size every run is zero-padded to (see [`ctx_sizes`]).
    ctx_sizes: Vec<usize>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("engine", &self.engine).field("programs", &self.programs).finish()
    }
}

impl Session {
    /// Compiles (or prepares) every program of `input` for `engine` and binds its maps. Native engines
    /// compile verified code only: unless `checked` is asked for (or the input is raw bytecode), every
    /// program must pass the verifier first (`pipeline::gate`; tracepoint layouts come from `formats`).
    /// The interpreter checks every access itself and runs any program.
    pub fn new(input: &Input, engine: Engine, checked: bool, formats: &TpFormats) -> Result<Session, SessionError> {
        let checked = match engine {
            Engine::Interp => checked,
            Engine::Jit | Engine::Aot => crate::pipeline::gate(input, checked, formats)? == Safety::Checked,
        };
        let sources: Vec<ProgramSource<'_>> = input
            .programs
            .iter()
            .map(|p| ProgramSource { name: &p.name, section: &p.section, prog_type: p.prog_type, code: &p.code })
            .collect();
        let opts = CodegenOptions {
            lower: LowerOptions { checked, maps: input.maps.clone() },
            target: None,
            verify_ir: cfg!(debug_assertions),
            pic: engine == Engine::Aot,
        };
        let code = match engine {
            Engine::Interp => Code::Interp(
                input
                    .programs
                    .iter()
                    .map(|p| {
                        InterpProgram::new(&p.code)
                            .map_err(|e| SessionError::Interp { program: p.name.clone(), message: e.to_string() })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            Engine::Jit => Code::Jit(Box::new(JitProgram::compile(&sources, &opts, false)?)),
            Engine::Aot => {
                let built = build_object(
                    &ObjectSource { programs: sources, maps: input.maps.clone(), license: input.license.clone() },
                    &opts,
                    false,
                )?;
                let obj = crate::conformance::scratch_path("session", "o");
                let so = obj.with_extension("so");
                std::fs::write(&obj, &built.bytes).map_err(|source| SessionError::Io { path: obj.clone(), source })?;
                let linked = link_shared(&obj, &so, None);
                let _ = std::fs::remove_file(&obj);
                linked?;
                let lib = NativeLibrary::open(&so);
                let _ = std::fs::remove_file(&so);
                Code::Aot(lib?)
            }
        };
        let binding = Binding::new(&input.maps)?;
        register_callbacks(&code, &binding);
        // Verified native code never reads stack bytes it did not write: skip clearing the stack area.
        binding.set_zero_stack(engine == Engine::Interp || checked);
        let programs: Vec<(String, String, ProgType)> =
            input.programs.iter().map(|p| (p.name.clone(), p.section.clone(), p.prog_type)).collect();
        Ok(Session { ctx_sizes: ctx_sizes(&programs), programs, engine, code, binding, records: None })
    }

    /// Runs a shared library built by `bpfc build --shared` (its maps come from its descriptor).
    pub fn from_library(lib: NativeLibrary) -> Result<Session, SessionError> {
        let binding = Binding::new(&lib.maps)?;
        let programs: Vec<(String, String, ProgType)> = lib
            .programs
            .iter()
            .map(|p| (p.name.clone(), p.section.clone(), ProgType::from_u32(p.prog_type).unwrap_or(ProgType::Unspec)))
            .collect();
        let code = Code::Aot(lib);
        register_callbacks(&code, &binding);
        Ok(Session { ctx_sizes: ctx_sizes(&programs), programs, engine: Engine::Aot, code, binding, records: None })
    }

    /// Prints ring buffer and perf records through `records` (BTF-typed) rather than as hex.
    pub fn set_record_types(&mut self, records: RecordTypes) {
        self.records = Some(records);
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The maps and helper state.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    fn runnables(&self) -> Vec<Runnable<'_>> {
        match &self.code {
            Code::Interp(progs) => progs.iter().map(Runnable::Interp).collect(),
            Code::Jit(jit) => self
                .programs
                .iter()
                .map(|(name, ..)| Runnable::Native(jit.entry(name).expect("every program was compiled")))
                .collect(),
            Code::Aot(lib) => self
                .programs
                .iter()
                .map(|(name, ..)| Runnable::Native(lib.program(name).expect("every program was built").entry()))
                .collect(),
        }
    }

    /// Runs program `index` on `ctx` (a copy: the caller's bytes are not changed) for `event`.
    pub fn run(&self, index: usize, ctx: &[u8], event: EventMeta) -> RunReport {
        self.run_in_place(index, &mut ctx.to_vec(), event)
    }

    /// Runs program `index` on `ctx`, leaving what it wrote there (syscall programs write their context
    /// back to user space). A context shorter than the size the program was verified against (a raw_tp
    /// event with fewer args, a syscall buffer, the record of a bare `SEC("tracepoint")` tail-call target)
    /// runs zero-padded to that size on every engine, so verified native code never reads past it; the
    /// first `ctx.len()` bytes come back.
    pub fn run_in_place(&self, index: usize, ctx: &mut Vec<u8>, event: EventMeta) -> RunReport {
        let writable = ctx_writable(self.programs[index].2);
        let len = ctx.len();
        ctx.resize(len.max(self.ctx_sizes[index]), 0);
        let report = self.binding.run(&self.runnables(), index, ctx, event, writable);
        ctx.truncate(len);
        report
    }
}

/// A trap as a log line that engines and runs can be compared on: the address of a faulting access is
/// shown relative to the context buffer when it is near it, as itself when it is a small number (a NULL
/// dereference), and otherwise hidden — stack and map addresses are this process's and differ between
/// engines and runs.
fn portable_trap(t: &bpfc_runtime::abi::TrapInfo, ctx_base: u64) -> String {
    use bpfc_runtime::abi::TrapCode;
    let code = TrapCode::from_u32(t.code);
    let is_address = matches!(code, Some(TrapCode::OutOfBounds | TrapCode::Misaligned));
    if !is_address {
        return crate::conformance::describe_trap(t);
    }
    let at = match t.detail.checked_sub(ctx_base) {
        Some(off) if off < 1 << 20 => format!("address ctx{off:+#x}"),
        _ if t.detail < 1 << 16 => format!("address {:#x}", t.detail),
        _ => "a host address".to_string(),
    };
    format!("trap {:?} at insn #{} ({at}, access {:#x})", code.expect("matched above"), t.pc, t.access)
}

/// The context size each program's runs are padded to: the largest context the verifier allows any
/// program of the same type to read (tail calls stay within one type and share the context). A program
/// on a named tracepoint needs nothing: its event carries the whole record its format describes.
fn ctx_sizes(programs: &[(String, String, ProgType)]) -> Vec<usize> {
    let need = |(_, section, prog_type): &(String, String, ProgType)| -> usize {
        let named_tracepoint = *prog_type == ProgType::Tracepoint && section.matches('/').count() >= 2;
        if named_tracepoint {
            return 0;
        }
        CtxLayout::for_prog_type(*prog_type, Arch::host()).map_or(0, |l| l.size as usize)
    };
    programs.iter().map(|p| programs.iter().filter(|q| q.2 == p.2).map(need).max().unwrap_or(0)).collect()
}

/// What happened when a session ran a stream of events, in a form engines can be compared on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunLog {
    /// Per program invocation and per output, in order: `event N prog NAME: r0 = ...`, the context a
    /// syscall program changed (hex), trace lines, ring buffer and perf records (hex), traps.
    pub lines: Vec<String>,
    /// Invocations that trapped.
    pub traps: usize,
    /// Invocations run.
    pub runs: usize,
    /// Ring buffer records in the order they were submitted: map name and bytes.
    pub ringbuf_records: Vec<(String, Vec<u8>)>,
}

/// One map's contents at the end of a run: name and sorted `(key, value)` pairs.
pub type MapContents = (String, Vec<(Vec<u8>, Vec<u8>)>);

impl Session {
    /// Runs every program whose section matches each event (restricted to `only` when given), appending
    /// what happened to `log`.
    pub fn run_event(&self, event: &bpfc_runtime::events::Event, number: usize, only: Option<&str>, log: &mut RunLog) {
        self.binding.host().set_memory_source(std::sync::Arc::clone(&event.memory));
        for (i, (name, section, _)) in self.programs.iter().enumerate() {
            if only.is_some_and(|o| o != name) || !event.source.matches_section(section) {
                continue;
            }
            let mut ctx = event.ctx.clone();
            let report = self.run_in_place(i, &mut ctx, event.meta);
            // The buffer the program ran on (truncating after the run does not move it).
            let ctx_base = ctx.as_ptr().addr() as u64;
            log.runs += 1;
            // One allocation per invocation (this runs on every live event): sized for the usual line.
            let mut line = String::with_capacity(64);
            let _ = write!(line, "event {number} ");
            for (k, &p) in report.chain.iter().enumerate() {
                if k > 0 {
                    line.push_str(" -> ");
                }
                line.push_str(&self.programs[p].0);
            }
            line.push_str(": ");
            match report.outcome {
                bpfc_runtime::exec::Outcome::Exit(r0) => {
                    let _ = write!(line, "r0 = {r0:#x}");
                }
                bpfc_runtime::exec::Outcome::Trap(t) => {
                    log.traps += 1;
                    line.push_str(&portable_trap(&t, ctx_base));
                }
                bpfc_runtime::exec::Outcome::TailCall { target } => {
                    let _ = write!(line, "tail call to {target} not taken");
                }
            }
            log.lines.push(line);
            // What a syscall program wrote into its context is part of its result.
            if self.programs[i].2 == ProgType::Syscall && ctx != event.ctx {
                log.lines.push(format!("  ctx: {}", bpfc_runtime::events::replay::hex(&ctx)));
            }
            for t in self.binding.host().take_trace() {
                log.lines.push(format!("  trace: {}", t.msg.trim_end_matches('\n')));
            }
            for (fd, r) in self.binding.host().drain_ringbufs() {
                let map = self.map_name_by_fd(fd);
                log.lines.push(format!("  ringbuf {}", self.record(&map, &r.data)));
                log.ringbuf_records.push((map, r.data));
            }
            let (samples, lost) = self.binding.host().drain_perf();
            for (fd, s) in samples {
                log.lines.push(format!("  perf {}", self.record(&self.map_name_by_fd(fd), &s.data)));
            }
            if lost > 0 {
                log.lines.push(format!("  perf: {lost} samples lost"));
            }
        }
    }

    /// `MAP: record`, typed when a record type is known, else hex.
    fn record(&self, map: &str, data: &[u8]) -> String {
        let shown = self.records.as_ref().and_then(|r| r.describe(map, data));
        format!("{map}: {}", shown.unwrap_or_else(|| bpfc_runtime::maps::hex(data)))
    }

    fn map_name_by_fd(&self, fd: u32) -> String {
        self.binding.registry().get(fd).map(|m| m.spec().name.clone()).unwrap_or_else(|_| format!("fd {fd}"))
    }

    /// Every map's contents (object order), per-CPU values as the kernel returns them (all CPUs).
    pub fn map_contents(&self) -> Vec<MapContents> {
        (0..self.binding.decls().len())
            .filter_map(|i| {
                let map = self.binding.map(i)?;
                let mut elems = map.iterate();
                elems.sort();
                Some((self.binding.decls()[i].name.clone(), elems))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfc_runtime::abi::{TrapCode, TrapInfo};

    #[test]
    fn trap_lines_hide_host_addresses() {
        let trap = |code: TrapCode, detail: u64| TrapInfo { code: code as u32, pc: 3, detail, access: 0x18 };
        let base = 0x5555_0000_1000;
        assert_eq!(
            portable_trap(&trap(TrapCode::OutOfBounds, base + 0x60), base),
            "trap OutOfBounds at insn #3 (address ctx+0x60, access 0x18)"
        );
        assert_eq!(
            portable_trap(&trap(TrapCode::OutOfBounds, 0x10), base),
            "trap OutOfBounds at insn #3 (address 0x10, access 0x18)"
        );
        assert_eq!(
            portable_trap(&trap(TrapCode::Misaligned, 0x7ffd_0000_0000), base),
            "trap Misaligned at insn #3 (a host address, access 0x18)"
        );
        assert_eq!(
            portable_trap(&trap(TrapCode::Budget, 7), base),
            crate::conformance::describe_trap(&trap(TrapCode::Budget, 7))
        );
    }
}
