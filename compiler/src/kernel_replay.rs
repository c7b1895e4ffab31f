//! The kernel column of `bpfc test`: replayed events run through this machine's kernel
//! (`BPF_PROG_TEST_RUN`) and through the reference interpreter *under the same conditions*, compared on
//! r0 and map contents.
//!
//! The conditions are the kernel's, not the replay file's. A test run executes in the tester's task, so
//! the "current task" helpers answer with this thread (pid, tid, uid, gid, comm) and the CPU it is pinned
//! to (the event's CPU); the recorded `memory` blobs do not exist in the kernel; time is the kernel's
//! clock. The interpreter run gets exactly that: this thread's identity, the event's CPU, no memory
//! blobs, the current `CLOCK_MONOTONIC`. A ctx argument that points into a recorded blob would make the
//! kernel read whatever lives at that address, so both sides get [`UNREADABLE_ADDR`] instead, which
//! every read helper refuses alike (kernel reads: -ERANGE, user reads: -EFAULT; see
//! testsuite/tests/helpers_kernel.rs).
//!
//! Only program types the kernel can test-run from a replayed ctx take part ([`test_runnable`]: raw
//! tracepoints, pinned with `BPF_F_TEST_RUN_ON_CPU`; syscall programs, whose context written back is
//! compared too); the rest are named in the report. Helpers whose answers no replay can reproduce (clocks, random numbers,
//! the task_struct address) make differences expected; the report says which.

use crate::input::Input;
use crate::kernel::{KernelLoadError, KernelObject};
use crate::session::{Engine, Session, SessionError};
use bpfc_runtime::abi::{EventMeta, ProgType};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::replay::hex;
use bpfc_runtime::events::{Event, NoMemory};
use bpfc_runtime::exec::Outcome;
use bpfc_runtime::isa::{CallTarget, Code, Insn};
use bpfc_runtime::sys::bpf::{
    BPF_F_TEST_RUN_ON_CPU, Errno, MapFd, SysError, TestRun, map_get_next_key, map_lookup, prog_test_run,
};
use bpfc_runtime::sys::thread::{current_task, pin_to_cpu};
use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::sync::Arc;

/// What a ctx pointer into recorded memory becomes: a non-canonical x86-64 address. No mapping can
/// exist there, x86's `copy_from_kernel_nofault` refuses it (-ERANGE) and `copy_from_user_nofault` fails
/// `access_ok` (-EFAULT) — on any machine, whatever `vm.mmap_min_addr` says — and bpfc's probe helpers
/// answer the same.
pub const UNREADABLE_ADDR: u64 = 0xdead_0000_0000_0000;

/// Helpers whose answers in a test run cannot be reproduced: (id, name).
const UNREPRODUCIBLE: [(i32, &str); 8] = [
    (5, "bpf_ktime_get_ns"),
    (7, "bpf_get_prandom_u32"),
    (35, "bpf_get_current_task"),
    (118, "bpf_jiffies64"),
    (125, "bpf_ktime_get_boot_ns"),
    (158, "bpf_get_current_task_btf"),
    (160, "bpf_ktime_get_coarse_ns"),
    (208, "bpf_ktime_get_tai_ns"),
];

/// Map types whose contents are compared: plain data keyed by `get_next_key`. Others hold kernel object
/// references (program/perf/map arrays), records (ring buffers), stack ids, or cannot be iterated
/// (queues, stacks, bloom filters).
const COMPARED_MAP_TYPES: [u32; 7] = [1, 2, 5, 6, 9, 10, 11];

/// After each invocation the maps are compared to find the first event that makes them differ; beyond
/// this many entries per comparison only the final contents are compared (each comparison reads every
/// entry of every map with two system calls).
const LOCATE_BUDGET: usize = 4096;

/// Whether the kernel can run programs of `prog_type` with `BPF_PROG_TEST_RUN` on a ctx bpfc builds from
/// replay events: raw tracepoints (ctx = the `u64` args) and syscall programs (ctx = the event's bytes,
/// written back). Tracepoint, kprobe and uprobe programs have no test-run support in the kernel at all.
pub fn test_runnable(prog_type: ProgType) -> bool {
    matches!(prog_type, ProgType::RawTracepoint | ProgType::Syscall)
}

/// The ctx both sides get for `event`: its bytes with every 8-byte-aligned word that points into one of
/// the event's recorded memory blobs (a raw tracepoint arg, a pointer field of a syscall context)
/// replaced by [`UNREADABLE_ADDR`].
pub fn kernel_ctx(event: &Event) -> Vec<u8> {
    let blobs = event.memory.blobs();
    let in_blob = |v: u64| blobs.iter().any(|(a, b)| v >= *a && v - a < b.len() as u64);
    event
        .ctx
        .chunks(8)
        .flat_map(|c| match <[u8; 8]>::try_from(c) {
            Ok(w) if in_blob(u64::from_le_bytes(w)) => UNREADABLE_ADDR.to_le_bytes().to_vec(),
            _ => c.to_vec(),
        })
        .collect()
}

/// Names of the helpers `code` calls whose answers a test run cannot reproduce.
pub fn unreproducible_helpers(code: &Code) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = code
        .insns()
        .iter()
        .filter_map(|l| match l.insn {
            Insn::Call(CallTarget::Helper(id)) => UNREPRODUCIBLE.iter().find(|(h, _)| *h == id).map(|(_, n)| *n),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Why the kernel column could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum KernelColumnError {
    /// The interpreter session could not be set up.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// This process cannot use bpf() (no permission, disabled, too old a kernel).
    #[error("bpf() is unusable here: {0}")]
    Unavailable(String),
    /// The kernel refused the object (its verifier log is in the error).
    #[error("the kernel refused the object: {0}")]
    Load(#[from] KernelLoadError),
}

/// A map's sorted entries.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Compared maps' entries by name, object order.
type NamedEntries = Vec<(String, Entries)>;

/// One difference between the kernel and the interpreter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// An invocation ended differently.
    Result {
        /// Event number (1-based, as in the other columns).
        event: usize,
        /// Program name.
        program: String,
        /// What the interpreter did (r0 as the kernel reports it: low 32 bits).
        interp: String,
        /// What the kernel did.
        kernel: String,
    },
    /// A syscall program left different bytes in its context.
    Ctx {
        /// Event number.
        event: usize,
        /// Program name.
        program: String,
        /// The interpreter's context after the run (hex).
        interp: String,
        /// The kernel's (hex).
        kernel: String,
    },
    /// A map's final contents differ.
    Map {
        /// Map name.
        name: String,
        /// The first invocation after which it differed (event, program), when it was located.
        first: Option<(usize, String)>,
        /// Differing entries, one line each.
        entries: Vec<String>,
    },
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Difference::Result { event, program, interp, kernel } => {
                write!(f, "event {event} {program}:\n    interp: {interp}\n    kernel: {kernel}")
            }
            Difference::Ctx { event, program, interp, kernel } => {
                write!(f, "event {event} {program}: context written back\n    interp: {interp}\n    kernel: {kernel}")
            }
            Difference::Map { name, first, entries } => {
                write!(f, "map {name}")?;
                match first {
                    Some((event, program)) => write!(f, " (first differs after event {event} {program})")?,
                    None => write!(f, " (final contents)")?,
                }
                f.write_str(":")?;
                for e in entries {
                    write!(f, "\n    {e}")?;
                }
                Ok(())
            }
        }
    }
}

/// The r0 comparison: the kernel reports the low 32 bits of r0.
pub fn compare_result(interp: &Outcome, kernel: &Result<u32, String>) -> Option<(String, String)> {
    let ours = match interp {
        Outcome::Exit(r0) => Ok(*r0 as u32),
        Outcome::Trap(t) => Err(crate::conformance::describe_trap(t)),
        Outcome::TailCall { target } => Err(format!("tail call to {target} not taken")),
    };
    let show = |r: &Result<u32, String>| match r {
        Ok(v) => format!("r0 = {v:#x}"),
        Err(e) => e.clone(),
    };
    match (&ours, kernel) {
        (Ok(a), Ok(b)) if a == b => None,
        _ => Some((show(&ours), show(kernel))),
    }
}

/// Why the kernel may have refused a test run with EINVAL: it checks the context's size against the
/// furthest byte the program accesses before running it.
fn einval_hint(syscall: bool, e: &SysError) -> &'static str {
    match e.errno() {
        Some(Errno::EINVAL) if syscall => {
            " (the kernel refuses a context shorter than the furthest byte the program accesses; bpfc runs it \
             zero-padded)"
        }
        Some(Errno::EINVAL) => " (the kernel refuses fewer args than the program reads)",
        _ => "",
    }
}

/// Entry-by-entry differences of one map (keys and values in hex as replay files write bytes; per-CPU
/// values are every CPU's slot in a row), at most `limit` lines.
pub fn diff_entries(interp: &Entries, kernel: &Entries, limit: usize) -> Vec<String> {
    let a: BTreeMap<&[u8], &[u8]> = interp.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
    let b: BTreeMap<&[u8], &[u8]> = kernel.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
    let mut keys: Vec<&[u8]> = a.keys().chain(b.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    let show = |v: Option<&&[u8]>| v.map_or("(absent)".to_string(), |v| hex(v));
    let lines: Vec<String> = keys
        .into_iter()
        .filter(|k| a.get(k) != b.get(k))
        .map(|k| format!("key {}: interp {}, kernel {}", hex(k), show(a.get(k)), show(b.get(k))))
        .collect();
    let n = lines.len();
    let mut out: Vec<String> = lines.into_iter().take(limit).collect();
    if n > limit {
        out.push(format!("... {} more", n - limit));
    }
    out
}

/// What the kernel column found.
#[derive(Clone, Debug, Default)]
pub struct KernelReport {
    /// Programs compared.
    pub tested: Vec<String>,
    /// Programs that cannot be test-run: name, section, type.
    pub untestable: Vec<(String, String, ProgType)>,
    /// Invocations run on both sides.
    pub runs: usize,
    /// Differences found.
    pub differences: Vec<Difference>,
    /// Events that matched a compared program but were run on neither side, and why.
    pub skipped: Vec<(usize, String)>,
    /// Maps whose contents were not compared, and why.
    pub maps_not_compared: Vec<(String, String)>,
    /// Tested programs that call helpers no replay can reproduce, with those helpers.
    pub unreproducible: Vec<(String, Vec<&'static str>)>,
    /// Whether the interpreter produced trace, ring buffer or perf output (not compared with the kernel).
    pub uncompared_output: bool,
}

impl KernelReport {
    /// Whether the differences are expected: some tested program calls unreproducible helpers.
    pub fn differences_expected(&self) -> bool {
        !self.unreproducible.is_empty()
    }

    /// Differences that count against the run (all of them, unless they are expected).
    pub fn counted_differences(&self) -> usize {
        if self.differences_expected() { 0 } else { self.differences.len() }
    }
}

/// Both sides of the kernel column: the object loaded into the kernel and an interpreter session.
pub struct KernelColumn {
    kernel: KernelObject,
    session: Session,
    decls: Vec<(String, u32)>,
    tested: Vec<usize>,
    first: BTreeMap<String, (usize, String)>,
    locate: bool,
    report: KernelReport,
}

impl std::fmt::Debug for KernelColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelColumn").field("tested", &self.report.tested).finish()
    }
}

impl KernelColumn {
    /// Loads `input` into the kernel and into a fresh interpreter session. `None` when no program of it
    /// can be test-run ([`untestable`] lists the programs and their types).
    pub fn new(input: &Input, formats: &TpFormats) -> Result<Option<KernelColumn>, KernelColumnError> {
        let tested: Vec<usize> =
            (0..input.programs.len()).filter(|&i| test_runnable(input.programs[i].prog_type)).collect();
        if tested.is_empty() {
            return Ok(None);
        }
        // Tell "cannot use bpf() at all" apart from "the kernel refused this object".
        bpfc_runtime::sys::bpf::kernel_bpf_available().map_err(KernelColumnError::Unavailable)?;
        let session = Session::new(input, Engine::Interp, false, formats)?;
        let kernel = crate::kernel::load(input)?;
        let mut report = KernelReport { untestable: untestable(input), ..KernelReport::default() };
        for &i in &tested {
            let p = &input.programs[i];
            report.tested.push(p.name.clone());
            let helpers = unreproducible_helpers(&p.code);
            if !helpers.is_empty() {
                report.unreproducible.push((p.name.clone(), helpers));
            }
        }
        let decls: Vec<(String, u32)> = input.maps.iter().map(|m| (m.name.clone(), m.map_type)).collect();
        for (name, t) in &decls {
            if !COMPARED_MAP_TYPES.contains(t) {
                report.maps_not_compared.push((name.clone(), format!("map type {t} holds no comparable data")));
            }
        }
        Ok(Some(KernelColumn { kernel, session, decls, tested, first: BTreeMap::new(), locate: true, report }))
    }

    /// The kernel side: map and program fds, object order.
    pub fn kernel(&self) -> &KernelObject {
        &self.kernel
    }

    /// Runs every compared program whose section matches `event` (number `number`) on both sides: raw
    /// tracepoint programs on raw tracepoint events (`u64` args), syscall programs on `ctx` events.
    pub fn run_event(&mut self, event: &Event, number: usize) {
        let progs: Vec<usize> = self
            .tested
            .iter()
            .copied()
            .filter(|&i| event.source.matches_section(&self.session.programs[i].1))
            .collect();
        if progs.is_empty() {
            return;
        }
        let cpu = event.meta.cpu;
        // Pinned to the event's CPU, the test run executes in this thread (see `sys::thread`).
        let _pin = match pin_to_cpu(cpu) {
            Ok(p) => p,
            Err(e) => {
                self.report.skipped.push((number, format!("cannot run on the event's CPU {cpu}: {e}")));
                return;
            }
        };
        // The task is read per event: the test run happens in whichever thread calls this.
        let identity = current_task();
        let ctx = kernel_ctx(event);
        self.session.binding().host().set_memory_source(Arc::new(NoMemory));
        for i in progs {
            let syscall = self.session.programs[i].2 == ProgType::Syscall;
            let meta = EventMeta { cpu, time_ns: bpfc_runtime::sys::perf::monotonic_ns(), ..identity };
            let mut ours = ctx.clone();
            let report = self.session.run_in_place(i, &mut ours, meta);
            self.drain_output();
            // Syscall programs take no flags (they run in the caller's context anyway); raw tracepoint
            // programs run on the CPU asked for, which is this thread's.
            let (flags, on) = if syscall { (0, 0) } else { (BPF_F_TEST_RUN_ON_CPU, cpu) };
            let kernel = prog_test_run(
                self.kernel.progs[i].as_fd(),
                &TestRun { ctx_in: &ctx, flags, cpu: on, ..TestRun::default() },
            )
            .map_err(|e| format!("BPF_PROG_TEST_RUN failed: {e}{}", einval_hint(syscall, &e)));
            self.report.runs += 1;
            let chain: Vec<&str> = report.chain.iter().map(|&p| self.session.programs[p].0.as_str()).collect();
            let program = if chain.is_empty() { self.session.programs[i].0.clone() } else { chain.join(" -> ") };
            let retval = kernel.as_ref().map(|r| r.retval).map_err(Clone::clone);
            if let Some((interp, kernel)) = compare_result(&report.outcome, &retval) {
                self.report.differences.push(Difference::Result {
                    event: number,
                    program: program.clone(),
                    interp,
                    kernel,
                });
            }
            // The context written back: only syscall programs may write theirs.
            if let Ok(run) = &kernel
                && syscall
                && run.ctx_in_after != ours
            {
                self.report.differences.push(Difference::Ctx {
                    event: number,
                    program: program.clone(),
                    interp: hex(&ours),
                    kernel: hex(&run.ctx_in_after),
                });
            }
            if self.locate {
                self.locate_map_divergence(number, &program);
            }
        }
    }

    fn drain_output(&mut self) {
        let host = self.session.binding().host();
        let trace = host.take_trace();
        let rings = host.drain_ringbufs();
        let (perf, lost) = host.drain_perf();
        if !trace.is_empty() || !rings.is_empty() || !perf.is_empty() || lost > 0 {
            self.report.uncompared_output = true;
        }
    }

    fn locate_map_divergence(&mut self, event: usize, program: &str) {
        let (ours, theirs) = self.contents();
        if ours.iter().chain(theirs.iter()).map(|(_, e)| e.len()).sum::<usize>() > LOCATE_BUDGET {
            self.locate = false;
            return;
        }
        for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
            if a != b && !self.first.contains_key(name) {
                self.first.insert(name.clone(), (event, program.to_string()));
            }
        }
    }

    /// Compared maps' contents: (interpreter, kernel), by name, object order.
    fn contents(&self) -> (NamedEntries, NamedEntries) {
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        for (i, (name, t)) in self.decls.iter().enumerate() {
            if !COMPARED_MAP_TYPES.contains(t) {
                continue;
            }
            let mut a = self.session.binding().map(i).map(|m| m.iterate()).unwrap_or_default();
            a.sort();
            ours.push((name.clone(), a));
            theirs.push((name.clone(), kernel_entries(&self.kernel.maps[i])));
        }
        (ours, theirs)
    }

    /// Compares the final map contents and returns the report.
    pub fn finish(mut self) -> KernelReport {
        let (ours, theirs) = self.contents();
        for ((name, a), (_, b)) in ours.iter().zip(&theirs) {
            if a != b {
                // Located while the per-invocation comparison ran (see LOCATE_BUDGET); else unknown.
                let first = self.first.get(name).cloned();
                self.report.differences.push(Difference::Map {
                    name: name.clone(),
                    first,
                    entries: diff_entries(a, b, 20),
                });
            }
        }
        self.report
    }
}

/// Programs of `input` the kernel cannot test-run: name, section, type.
pub fn untestable(input: &Input) -> Vec<(String, String, ProgType)> {
    input
        .programs
        .iter()
        .filter(|p| !test_runnable(p.prog_type))
        .map(|p| (p.name.clone(), p.section.clone(), p.prog_type))
        .collect()
}

/// A kernel map's entries, sorted (per-CPU values with every possible CPU's slot, as ours).
fn kernel_entries(map: &MapFd) -> Entries {
    let mut out = Vec::new();
    let mut key: Option<Vec<u8>> = None;
    // get_next_key fails with ENOENT after the last key.
    while let Ok(next) = map_get_next_key(map, key.as_deref()) {
        match map_lookup(map, &next, 0) {
            Ok(v) => out.push((next.clone(), v)),
            // Deleted between the two calls cannot happen (nothing runs concurrently); show it anyway.
            Err(e) => out.push((next.clone(), format!("lookup failed: {e}").into_bytes())),
        }
        key = Some(next);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfc_runtime::events::{BlobMemory, EventSource};

    #[test]
    fn pointers_into_blobs_become_unreadable() {
        let mut mem = BlobMemory::new();
        mem.insert(0xffff_c900_0000_1000, vec![0; 168]).unwrap();
        let args: [u64; 4] = [0xffff_c900_0000_1000, 257, 0xffff_c900_0000_10a7, 0xffff_c900_0000_10a8];
        let event = Event {
            source: Arc::new(EventSource::RawTracepoint { name: "sys_enter".into() }),
            meta: EventMeta::default(),
            ctx: args.iter().flat_map(|a| a.to_le_bytes()).collect(),
            memory: Arc::new(mem),
            line: None,
        };
        let got: Vec<u64> = kernel_ctx(&event).chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect();
        // Start and last byte of the blob are replaced; a scalar and the address just past it are not.
        assert_eq!(got, [UNREADABLE_ADDR, 257, UNREADABLE_ADDR, 0xffff_c900_0000_10a8]);
    }

    #[test]
    fn r0_compares_low_32_bits_and_failures_differ() {
        assert_eq!(compare_result(&Outcome::Exit(0x1_0000_0005), &Ok(5)), None);
        assert_eq!(compare_result(&Outcome::Exit(5), &Ok(6)), Some(("r0 = 0x5".to_string(), "r0 = 0x6".to_string())));
        let (_, k) = compare_result(&Outcome::Exit(0), &Err("BPF_PROG_TEST_RUN failed: EINVAL".into())).unwrap();
        assert!(k.contains("EINVAL"));
    }

    #[test]
    fn differences_name_event_program_and_what() {
        let ctx = Difference::Ctx { event: 4, program: "add".into(), interp: "0300".into(), kernel: "0400".into() };
        assert_eq!(ctx.to_string(), "event 4 add: context written back\n    interp: 0300\n    kernel: 0400");
        let map = Difference::Map { name: "total".into(), first: Some((2, "add".into())), entries: vec!["k".into()] };
        assert_eq!(map.to_string(), "map total (first differs after event 2 add):\n    k");
        let fin = Difference::Map { name: "m".into(), first: None, entries: vec![] };
        assert_eq!(fin.to_string(), "map m (final contents):");
    }

    #[test]
    fn map_diff_names_keys() {
        let a: Entries = vec![(vec![1], vec![10]), (vec![2], vec![20])];
        let b: Entries = vec![(vec![1], vec![10]), (vec![2], vec![21]), (vec![3], vec![30])];
        assert_eq!(
            diff_entries(&a, &b, 20),
            ["key 02: interp 14, kernel 15", "key 03: interp (absent), kernel 1e"].map(String::from)
        );
        assert_eq!(diff_entries(&a, &b, 1).last().unwrap(), "... 1 more");
        assert!(diff_entries(&a, &a, 20).is_empty());
    }

    #[test]
    fn unreproducible_helpers_found_and_differences_expected() {
        let code = bpfc_runtime::isa::decode(
            &bpfc_runtime::isa::assemble("call 5\ncall 1\ncall 5\ncall 7\nmov %r0, 0\nexit").unwrap(),
        )
        .unwrap();
        assert_eq!(unreproducible_helpers(&code), ["bpf_get_prandom_u32", "bpf_ktime_get_ns"]);
        let mut r = KernelReport::default();
        r.differences.push(Difference::Result {
            event: 1,
            program: "p".into(),
            interp: "a".into(),
            kernel: "b".into(),
        });
        assert_eq!(r.counted_differences(), 1);
        r.unreproducible.push(("p".into(), vec!["bpf_ktime_get_ns"]));
        assert_eq!(r.counted_differences(), 0);
    }
}
