//! Events programs run on: replay files ([`replay`]), live tracepoints ([`live_tp`]) and live uprobes
//! ([`uprobe`]). Every source yields [`Event`]s with what one program invocation needs:
//!
//! - `ctx`: the context bytes laid out for the program type — a tracepoint record (from the event's
//!   tracefs `format`, see [`record`]), a `struct pt_regs` of the event's architecture
//!   ([`crate::ctx::pt_regs`]), the `u64` argument array of a raw tracepoint, or a syscall program's
//!   context bytes;
//! - `meta`: the [`EventMeta`] the "current task" helpers answer from (pid, tid, uid, gid, cpu, time, comm);
//! - `memory`: a [`MemorySource`] for `bpf_probe_read_user`/`_kernel` — the replay file's blobs, or the
//!   traced process itself (`process_vm_readv`) for live events.
//!
//! Which program an event is for is its [`EventSource`] (`tracepoint/syscalls/sys_enter_openat`,
//! `uprobe/uprobe_target:compute`, ...); [`EventSource::matches_section`] compares it with a program's ELF
//! section name the way libbpf parses those names.
//!
//! The ctx bytes are exactly what the kernel hands a program for that event (a tracepoint record includes
//! its `__data_loc` data and the kernel's padding to `len % 8 == 4`); a runner that verified a program
//! against a larger [`crate::ctx::CtxLayout::size`] must copy them into a zero-padded buffer of that size.

pub mod formats;
pub mod live_tp;
pub mod memory;
pub mod record;
pub mod replay;
pub mod uprobe;

use std::fmt;
use std::sync::Arc;

use crate::abi::EventMeta;
use crate::ctx::{Arch, TracepointFormat};
pub use formats::{FormatError, TpFormats};
pub use live_tp::{Attach, LiveError, LiveOptions, LiveSource, LiveStats, StopCondition};
pub use memory::{BlobMemory, MemorySource, NoMemory, Overlay, ProcessMemory, RecordingMemory};
pub use replay::{ReplayError, ReplayReader, ReplayWriter};
pub use uprobe::{UprobeError, UprobeSpec};

/// Which kind of probe produced a `pt_regs` context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    /// Kernel function entry.
    Kprobe,
    /// Kernel function return.
    Kretprobe,
    /// User function entry.
    Uprobe,
    /// User function return.
    Uretprobe,
}

impl ProbeKind {
    /// The libbpf section prefix and replay-file key (`kprobe`, `uretprobe`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ProbeKind::Kprobe => "kprobe",
            ProbeKind::Kretprobe => "kretprobe",
            ProbeKind::Uprobe => "uprobe",
            ProbeKind::Uretprobe => "uretprobe",
        }
    }

    /// All kinds, in replay-key order.
    pub const ALL: [ProbeKind; 4] = [ProbeKind::Kprobe, ProbeKind::Kretprobe, ProbeKind::Uprobe, ProbeKind::Uretprobe];
}

/// Where an event comes from: decides which programs run on it and how its ctx is laid out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventSource {
    /// A tracepoint; the ctx is its record.
    Tracepoint {
        /// Category (`syscalls`).
        category: String,
        /// Event name (`sys_enter_openat`).
        name: String,
        /// The record layout the ctx was built with.
        format: Arc<TracepointFormat>,
    },
    /// A kprobe/uprobe (or their return probes); the ctx is a `struct pt_regs`.
    Probe {
        /// The probe, when known (`None`: any pt_regs program may run on it).
        attach: Option<(ProbeKind, String)>,
        /// Whose `pt_regs` layout the ctx has.
        arch: Arch,
    },
    /// A raw tracepoint; the ctx is its `u64` arguments.
    RawTracepoint {
        /// Tracepoint name (`sys_enter`).
        name: String,
    },
    /// A `BPF_PROG_TYPE_SYSCALL` program's run (`SEC("syscall")`); the ctx is the bytes user space
    /// passes (and gets back: the program may write them).
    Syscall,
}

impl EventSource {
    /// Whether a program in ELF section `section` (libbpf naming: `tracepoint/CAT/NAME`, `tp/CAT/NAME`,
    /// `raw_tp/NAME`, `raw_tracepoint/NAME`, `kprobe/FUNC`, `uprobe/PATH:SYMBOL`, ...) runs on this event.
    /// Uprobe paths are compared by file name, since sections usually hold a path relative to somewhere.
    pub fn matches_section(&self, section: &str) -> bool {
        let (prefix, rest) = section.split_once('/').unwrap_or((section, ""));
        match self {
            EventSource::Tracepoint { category, name, .. } => {
                matches!(prefix, "tracepoint" | "tp") && rest.split_once('/') == Some((category, name))
            }
            EventSource::RawTracepoint { name } => {
                matches!(prefix, "raw_tp" | "raw_tracepoint" | "raw_tp.w" | "raw_tracepoint.w") && rest == name
            }
            // libbpf knows exactly `SEC("syscall")`.
            EventSource::Syscall => section == "syscall",
            EventSource::Probe { attach, .. } => {
                let Some(kind) = ProbeKind::ALL.into_iter().find(|k| k.name() == prefix) else {
                    return false;
                };
                let Some((ekind, target)) = attach else { return true };
                if kind != *ekind {
                    return false;
                }
                match kind {
                    ProbeKind::Kprobe | ProbeKind::Kretprobe => rest.split('+').next() == target.split('+').next(),
                    ProbeKind::Uprobe | ProbeKind::Uretprobe => {
                        let split = |s: &str| -> (String, String) {
                            let (path, sym) = s.rsplit_once(':').unwrap_or((s, ""));
                            let file = path.rsplit('/').next().unwrap_or(path).to_string();
                            (file, sym.split('+').next().unwrap_or("").to_string())
                        };
                        split(rest) == split(target)
                    }
                }
            }
        }
    }
}

impl fmt::Display for EventSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventSource::Tracepoint { category, name, .. } => write!(f, "tracepoint/{category}/{name}"),
            EventSource::RawTracepoint { name } => write!(f, "raw_tp/{name}"),
            EventSource::Syscall => write!(f, "syscall"),
            EventSource::Probe { attach: Some((kind, target)), .. } => write!(f, "{}/{target}", kind.name()),
            EventSource::Probe { attach: None, arch } => write!(f, "pt_regs ({arch:?})"),
        }
    }
}

/// One event: everything one program invocation needs besides the program and its maps.
#[derive(Clone)]
pub struct Event {
    /// Which programs it is for, and the ctx layout.
    pub source: Arc<EventSource>,
    /// Task, CPU and time: what the "current task" helpers answer.
    pub meta: EventMeta,
    /// The ctx bytes (see the module docs for padding).
    pub ctx: Vec<u8>,
    /// Memory `bpf_probe_read_*` reads.
    pub memory: Arc<dyn MemorySource>,
    /// Line of the replay file it came from (1-based), for messages.
    pub line: Option<usize>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("source", &self.source.to_string())
            .field("meta", &self.meta)
            .field("ctx_len", &self.ctx.len())
            .field("line", &self.line)
            .finish()
    }
}

impl Event {
    /// Wraps the event's memory in a [`RecordingMemory`] and returns it: run the programs on the event, then
    /// pass `recording.take()` to [`ReplayWriter::write`] so the replay line carries exactly the memory the
    /// programs read (what `bpfc record` does).
    pub fn record_memory(&mut self) -> Arc<RecordingMemory> {
        let r = Arc::new(RecordingMemory::new(self.memory.clone()));
        self.memory = r.clone();
        r
    }
}

/// The command name in `meta.comm` up to its NUL.
pub fn comm_str(meta: &EventMeta) -> String {
    let end = meta.comm.iter().position(|&b| b == 0).unwrap_or(meta.comm.len());
    String::from_utf8_lossy(&meta.comm[..end]).into_owned()
}

/// A `comm` field from a string: at most 15 bytes (the kernel's `TASK_COMM_LEN` is 16, NUL included).
pub fn comm_bytes(s: &str) -> Option<[u8; 16]> {
    let b = s.as_bytes();
    if b.len() > 15 || b.contains(&0) {
        return None;
    }
    let mut out = [0u8; 16];
    out[..b.len()].copy_from_slice(b);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_matching() {
        let p = |k, t: &str| EventSource::Probe { attach: Some((k, t.to_string())), arch: Arch::X86_64 };
        let u = p(ProbeKind::Uprobe, "/work/examples/uprobe_target:compute");
        assert!(u.matches_section("uprobe/uprobe_target:compute"));
        assert!(!u.matches_section("uretprobe/uprobe_target:compute"));
        assert!(!u.matches_section("uprobe/uprobe_target:other"));
        let k = p(ProbeKind::Kretprobe, "do_sys_openat2");
        assert!(k.matches_section("kretprobe/do_sys_openat2"));
        assert!(!k.matches_section("kprobe/do_sys_openat2"));
        let any = EventSource::Probe { attach: None, arch: Arch::X86_64 };
        assert!(any.matches_section("kprobe/x") && any.matches_section("uretprobe/a:b"));
        assert!(!any.matches_section("tracepoint/a/b"));
        let r = EventSource::RawTracepoint { name: "sys_enter".into() };
        assert!(r.matches_section("raw_tp/sys_enter") && r.matches_section("raw_tracepoint/sys_enter"));
        assert!(!r.matches_section("raw_tp/sys_exit"));
        let s = EventSource::Syscall;
        assert!(s.matches_section("syscall"));
        assert!(!s.matches_section("syscall/x") && !s.matches_section("raw_tp/syscall"));
        assert!(!any.matches_section("syscall") && !r.matches_section("syscall"));
    }
}
