//! Live events from this machine's kernel: tracepoints (`PERF_TYPE_TRACEPOINT`, id from tracefs) and
//! uprobes/uretprobes (the uprobe PMU, see [`super::uprobe`]), one perf event per online CPU and attach
//! point (system-wide, or for one process and the children it creates afterwards: `inherit`).
//!
//! Per CPU, the first event owns an mmap'd ring and every other event on that CPU is redirected into it
//! (`PERF_EVENT_IOC_SET_OUTPUT`), so one ring per CPU holds all attach points in the order they fired;
//! samples carry `PERF_SAMPLE_IDENTIFIER` to say which. Samples have TID, TIME (CLOCK_MONOTONIC, the
//! clock of `bpf_ktime_get_ns`), CPU, and RAW (a tracepoint's record = the program's ctx, copied once
//! out of the ring) or REGS_USER (→ `pt_regs`).
//!
//! Order: rings are drained into one heap keyed by (time, arrival); an item is released only once it is
//! older than the drain's start minus [`SLACK_NS`], so an event still being written on another CPU cannot
//! be overtaken: events come out in timestamp order across CPUs. At the stop, everything is released.
//!
//! Task data: `PERF_RECORD_COMM` records (requested on each CPU's ring owner) update the comm of a tid at
//! their point in time (exec); a tid seen first is looked up in `/proc/PID/task/TID/{comm,status}` (comm,
//! real uid/gid) and cached. A task already gone by then gets an empty comm and is counted in
//! [`LiveStats::comm_unknown`]. Lost records (`PERF_RECORD_LOST`, `PERF_RECORD_LOST_SAMPLES`) are
//! counted in [`LiveStats::lost`]: callers must report them.
//!
//! `bpf_probe_read_user` of a live event reads the event's process with `process_vm_readv` at the time
//! the program runs (after the event): memory the process has since changed or unmapped (or the whole
//! process, once it exited) reads differently or fails. That is inherent to running outside the kernel;
//! [`StopCondition::hold_exit`] at least keeps a traced command's memory alive through its exit: the
//! process is `PTRACE_SEIZE`d with `PTRACE_O_TRACEEXIT`, stops in `do_exit` before its mm is released, the
//! rings are drained, and it is detached once the iterator has handed out the last event. Its other
//! ptrace stops are passed through (signals re-injected, group-stops kept with `PTRACE_LISTEN`).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::formats::{FormatError, TpFormats, tracefs_root};
use super::memory::{BlobMemory, MemorySource, NoMemory, Overlay, ProcessMemory, StackSnapshot};
use super::uprobe::{self, UprobeError, UprobeSpec};
use super::{Event, EventSource, ProbeKind};
use crate::abi::EventMeta;
use crate::ctx::Arch;
use crate::sys::perf::{self, PerfEventAttr, RingBuffer, flag, record, sample};

/// How long after its timestamp a sample is certainly visible in its ring.
pub const SLACK_NS: u64 = 2_000_000;

/// When a live source ends.
#[derive(Clone, Debug, Default)]
pub struct StopCondition {
    /// After this long.
    pub duration: Option<Duration>,
    /// When this flag becomes true (a Ctrl-C handler sets it).
    pub flag: Option<Arc<AtomicBool>>,
    /// When this process has exited (watched with a pidfd; need not be our child).
    pub exit_of: Option<u32>,
    /// Hold `exit_of` at its exit (`ptrace` with `PTRACE_O_TRACEEXIT`, before its memory is torn down)
    /// until every event has been consumed, so `bpf_probe_read_user` of its last events still reads its
    /// memory. The source must then be iterated on the thread that opened it (ptrace is per thread).
    pub hold_exit: bool,
}

/// Options of a live source.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Only this process (and children it creates after attaching); `None`: every process.
    pub pid: Option<u32>,
    /// When to end.
    pub stop: StopCondition,
    /// Data pages per CPU ring, as a power of two (default 7: 128 pages).
    pub pages_log2: u32,
    /// Bytes of user stack to snapshot with every sample (`PERF_SAMPLE_STACK_USER`, a multiple of 8
    /// below 65535; 0: none). Programs that read user memory after the event then see strings and
    /// buffers on the stack as they were when it fired — the kernel reads them synchronously, bpfc
    /// only later. See [`LiveOptions::for_user_reads`].
    pub user_stack: u32,
}

impl Default for LiveOptions {
    fn default() -> LiveOptions {
        LiveOptions { pid: None, stop: StopCondition::default(), pages_log2: 7, user_stack: 0 }
    }
}

impl LiveOptions {
    /// Stack snapshot size used when programs read user memory.
    pub const USER_STACK: u32 = 8192;

    /// Options with a user-stack snapshot (and rings four times bigger to hold the larger samples)
    /// when `reads_user_memory`.
    pub fn for_user_reads(self, reads_user_memory: bool) -> LiveOptions {
        if reads_user_memory {
            LiveOptions { user_stack: Self::USER_STACK, pages_log2: self.pages_log2.max(9), ..self }
        } else {
            self
        }
    }
}

/// What to attach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attach {
    /// A tracepoint `category:name`.
    Tracepoint {
        /// Category.
        category: String,
        /// Name.
        name: String,
    },
    /// A uprobe or uretprobe.
    Uprobe(UprobeSpec),
    /// A raw tracepoint: only `sys_enter` and `sys_exit` can be run live, emulated from the
    /// `raw_syscalls` tracepoints (see [`RAW_TP_REGS_ADDR`]); others are refused with a pointer to replay.
    RawTracepoint {
        /// `sys_enter` or `sys_exit`.
        name: String,
    },
    /// A kprobe or kretprobe: refused on this kernel, with a pointer to replay.
    Kprobe {
        /// Function.
        func: String,
        /// kretprobe.
        ret: bool,
    },
}

impl Attach {
    /// The live attach point of a program in ELF section `section` (libbpf naming), or `None` for
    /// sections with no attach point of their own (a bare `tracepoint`, `uprobe` or tail-call target).
    /// Relative uprobe paths are resolved against `base` (the object's directory, as `kernel_run` does).
    /// Raw tracepoints are refused: they exist only for programs loaded into the kernel
    /// (`BPF_RAW_TRACEPOINT_OPEN`), so they run on replayed `raw_tp_args`.
    pub fn from_section(section: &str, base: &std::path::Path) -> Result<Option<Attach>, LiveError> {
        let (prefix, rest) = section.split_once('/').unwrap_or((section, ""));
        if rest.is_empty() {
            return Ok(None);
        }
        Ok(Some(match prefix {
            "tracepoint" | "tp" => {
                let (c, n) = super::formats::split_tracepoint(rest)?;
                Attach::Tracepoint { category: c.into(), name: n.into() }
            }
            "uprobe" | "uretprobe" => {
                let mut spec = UprobeSpec::parse(rest, prefix == "uretprobe")?;
                if spec.path.is_relative() {
                    spec.path = base.join(&spec.path);
                }
                Attach::Uprobe(spec)
            }
            "kprobe" | "kretprobe" => {
                Attach::Kprobe { func: rest.split('+').next().unwrap_or(rest).into(), ret: prefix == "kretprobe" }
            }
            "raw_tp" | "raw_tracepoint" | "raw_tp.w" | "raw_tracepoint.w" => {
                if !matches!(rest, "sys_enter" | "sys_exit") {
                    return Err(LiveError::NoRawTp { section: section.into() });
                }
                Attach::RawTracepoint { name: rest.into() }
            }
            _ => return Ok(None),
        }))
    }
}

/// A live source cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// Format or tracefs trouble.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// Uprobe trouble.
    #[error(transparent)]
    Uprobe(#[from] UprobeError),
    /// kprobes are unavailable.
    #[error("{message}")]
    NoKprobes {
        /// The explanation (what, why, and that replay works).
        message: String,
    },
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// What was attempted.
        what: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Raw tracepoints cannot be attached from user space.
    #[error(
        "cannot attach {section} live: raw tracepoints deliver their arguments only to programs loaded into \
         the kernel (BPF_RAW_TRACEPOINT_OPEN), and bpfc emulates only raw_tp/sys_enter and raw_tp/sys_exit; \
         run it on replayed `raw_tp_args` (`bpfc run PROG --events FILE.jsonl`, see docs/events.md)"
    )]
    NoRawTp {
        /// The section.
        section: String,
    },
    /// Nothing to attach.
    #[error("no attach points given")]
    Empty,
}

/// Counters of a live source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveStats {
    /// Samples delivered as events.
    pub events: u64,
    /// Samples the kernel lost (ring full or throttling): never silently dropped. Once the source has
    /// ended this is exact: the times the attach points fired minus the samples that reached the rings
    /// (`fired` needs `PERF_FORMAT_LOST`, Linux ≥ 6.0). Before, or without it, it is the sum of the
    /// `PERF_RECORD_LOST` records seen so far — which also count lost non-sample records (a `COMM`), so
    /// it can be higher by those.
    pub lost: u64,
    /// Times the attach points fired while attached (the events' counters; 0 if the kernel cannot say):
    /// at the end, `events + lost == fired`.
    pub fired: u64,
    /// Events whose task was gone before its comm could be read (comm left empty).
    pub comm_unknown: u64,
    /// Samples that could not be decoded (unknown id, truncated): should stay 0.
    pub malformed: u64,
    /// Records seen per CPU (index = CPU number in the order of `cpus`).
    pub per_cpu: Vec<u64>,
}

#[derive(Clone)]
enum Decode {
    Raw,
    Regs,
    /// raw_syscalls record + user registers → raw_tp args `[pt_regs *, id or ret]`.
    RawSyscall,
}

/// The (fake, kernel-half) address at which an emulated `raw_tp/sys_enter`/`sys_exit` event's
/// `struct pt_regs` lives in its memory: `args[0]` points there, and `bpf_probe_read_kernel` of it reads
/// the syscall's user registers as sampled (`PERF_SAMPLE_REGS_USER` = the task's syscall `pt_regs`),
/// with `orig_ax` = the syscall number.
pub const RAW_TP_REGS_ADDR: u64 = 0xffff_c900_0000_3f58;

struct Target {
    source: Arc<EventSource>,
    decode: Decode,
    /// Samples carry REGS_USER and STACK_USER after their own fields.
    stack: bool,
}

struct Ring {
    ring: RingBuffer,
    fds: Vec<OwnedFd>,
}

#[derive(Clone, Copy)]
struct Task {
    comm: [u8; 16],
    uid: u32,
    gid: u32,
}

/// A sample's user stack: the stack pointer and the bytes from it up.
type UserStack = (u64, Vec<u8>);

enum Item {
    /// An event, with memory of its own to lay over the process's (emulated raw_tp `pt_regs`) and its
    /// user stack snapshot (stack pointer, bytes).
    Event(Box<Event>, Option<BlobMemory>, Option<UserStack>),
    Comm {
        tid: u32,
        comm: [u8; 16],
    },
}

struct Pending {
    time: u64,
    seq: u64,
    item: Item,
}

impl PartialEq for Pending {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Pending {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(o.time, o.seq))
    }
}

/// A stream of live events; iterate it for [`Event`]s in timestamp order until the stop condition holds.
pub struct LiveSource {
    rings: Vec<Ring>,
    targets: Vec<Target>,
    ids: HashMap<u64, usize>,
    pending: BinaryHeap<Reverse<Pending>>,
    release_before: u64,
    seq: u64,
    tasks: HashMap<u32, Option<Task>>,
    memories: HashMap<u32, Arc<dyn MemorySource>>,
    no_memory: Arc<dyn MemorySource>,
    stats: LiveStats,
    stop: StopCondition,
    deadline: Option<Instant>,
    pidfd: Option<OwnedFd>,
    finished: bool,
    regs_count: usize,
    /// SAMPLE records read from the rings (decoded or malformed).
    samples_read: u64,
    /// The process held with ptrace, and whether it is in its exit stop.
    traced: Option<u32>,
    held: bool,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource").field("rings", &self.rings.len()).field("stats", &self.stats).finish()
    }
}

fn sys(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LiveError {
    let what = what.into();
    move |source| LiveError::Sys { what, source }
}

impl LiveSource {
    /// Attaches to tracepoints (`("syscalls", "sys_enter_openat")`).
    pub fn tracepoints(tps: &[(&str, &str)], opts: LiveOptions) -> Result<LiveSource, LiveError> {
        let attach: Vec<Attach> =
            tps.iter().map(|(c, n)| Attach::Tracepoint { category: c.to_string(), name: n.to_string() }).collect();
        LiveSource::open(&attach, opts)
    }

    /// Attaches to uprobes/uretprobes.
    pub fn uprobes(specs: &[UprobeSpec], opts: LiveOptions) -> Result<LiveSource, LiveError> {
        let attach: Vec<Attach> = specs.iter().cloned().map(Attach::Uprobe).collect();
        LiveSource::open(&attach, opts)
    }

    /// Attaches to everything in `attach` on every online CPU; events start flowing at once. Tracepoint
    /// layouts always come from this machine's tracefs (a copied format could describe another kernel).
    pub fn open(attach: &[Attach], opts: LiveOptions) -> Result<LiveSource, LiveError> {
        let formats = TpFormats::tracefs();
        if attach.is_empty() {
            return Err(LiveError::Empty);
        }
        // Resolve everything before opening any event, so a bad attach point fails without side effects.
        let mut plans: Vec<(Target, PerfEventAttr, Option<CString>)> = Vec::new();
        let base_sample = sample::IDENTIFIER | sample::TID | sample::TIME | sample::CPU;
        let base_flags = flag::DISABLED | flag::SAMPLE_ID_ALL | flag::USE_CLOCKID | flag::WATERMARK;
        for a in attach {
            match a {
                Attach::Kprobe { func, ret } => {
                    return Err(LiveError::NoKprobes { message: uprobe::kprobe_unavailable(func, *ret) });
                }
                Attach::Tracepoint { category, name } => {
                    let format = formats.get(category, name)?;
                    let id = tracepoint_id(category, name)?;
                    let attr = PerfEventAttr {
                        type_: perf::TYPE_TRACEPOINT,
                        config: id,
                        sample_period: 1,
                        sample_type: base_sample | sample::RAW,
                        flags: base_flags,
                        clockid: libc::CLOCK_MONOTONIC,
                        ..Default::default()
                    };
                    let source = EventSource::Tracepoint { category: category.clone(), name: name.clone(), format };
                    plans.push((Target { source: Arc::new(source), decode: Decode::Raw, stack: false }, attr, None));
                }
                Attach::RawTracepoint { name } => {
                    if !matches!(name.as_str(), "sys_enter" | "sys_exit") {
                        return Err(LiveError::NoRawTp { section: format!("raw_tp/{name}") });
                    }
                    let id = tracepoint_id("raw_syscalls", name)?;
                    let attr = PerfEventAttr {
                        type_: perf::TYPE_TRACEPOINT,
                        config: id,
                        sample_period: 1,
                        sample_type: base_sample | sample::RAW | sample::REGS_USER,
                        sample_regs_user: uprobe::regs_mask()?,
                        flags: base_flags,
                        clockid: libc::CLOCK_MONOTONIC,
                        ..Default::default()
                    };
                    let source = EventSource::RawTracepoint { name: name.clone() };
                    plans.push((
                        Target { source: Arc::new(source), decode: Decode::RawSyscall, stack: false },
                        attr,
                        None,
                    ));
                }
                Attach::Uprobe(spec) => {
                    let (ty, ret_bit) = uprobe::uprobe_pmu()?;
                    let mask = uprobe::regs_mask()?;
                    let offset = spec.file_offset()?;
                    let abs = std::fs::canonicalize(&spec.path)
                        .map_err(|source| UprobeError::Io { path: spec.path.clone(), source })?;
                    let path = CString::new(abs.as_os_str().as_encoded_bytes()).map_err(|_| LiveError::Sys {
                        what: format!("path {} contains a NUL", abs.display()),
                        source: std::io::ErrorKind::InvalidInput.into(),
                    })?;
                    let attr = PerfEventAttr {
                        type_: ty,
                        config: if spec.ret { 1u64 << ret_bit } else { 0 },
                        config2: offset,
                        sample_period: 1,
                        sample_type: base_sample | sample::REGS_USER,
                        sample_regs_user: mask,
                        flags: base_flags,
                        clockid: libc::CLOCK_MONOTONIC,
                        ..Default::default()
                    };
                    let kind = if spec.ret { ProbeKind::Uretprobe } else { ProbeKind::Uprobe };
                    let target = format!("{}:{}", abs.display(), spec.symbol)
                        + &if spec.offset != 0 { format!("+{:#x}", spec.offset) } else { String::new() };
                    let source = EventSource::Probe { attach: Some((kind, target)), arch: Arch::X86_64 };
                    plans.push((
                        Target { source: Arc::new(source), decode: Decode::Regs, stack: false },
                        attr,
                        Some(path),
                    ));
                }
            }
        }
        let cpus = perf::online_cpus().map_err(sys("reading the online CPUs"))?;
        let pid = opts.pid.map_or(-1, |p| p as i32);
        let mut rings = Vec::new();
        let mut ids = HashMap::new();
        if opts.user_stack > 0 {
            if !opts.user_stack.is_multiple_of(8) || opts.user_stack >= u32::from(u16::MAX) {
                return Err(LiveError::Sys {
                    what: format!("user stack snapshot of {} bytes (a multiple of 8 below 65535)", opts.user_stack),
                    source: std::io::ErrorKind::InvalidInput.into(),
                });
            }
            let mask = uprobe::regs_mask()?;
            for (target, attr, _) in &mut plans {
                attr.sample_type |= sample::REGS_USER | sample::STACK_USER;
                attr.sample_regs_user = mask;
                attr.sample_stack_user = opts.user_stack;
                target.stack = true;
            }
        }
        for &cpu in &cpus {
            let mut fds: Vec<OwnedFd> = Vec::new();
            let mut ring: Option<RingBuffer> = None;
            for (ti, (target, attr, path)) in plans.iter().enumerate() {
                let mut attr = *attr;
                if opts.pid.is_some() {
                    attr.flags |= flag::INHERIT;
                }
                if ring.is_none() {
                    attr.flags |= flag::COMM;
                }
                attr.read_format = perf::FORMAT_LOST;
                let fd = match perf::perf_event_open(&attr, path.as_deref(), pid, cpu as i32) {
                    // Kernels before 6.0 refuse PERF_FORMAT_LOST: lost counts then come from records only.
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        attr.read_format = 0;
                        perf::perf_event_open(&attr, path.as_deref(), pid, cpu as i32)
                    }
                    r => r,
                }
                .map_err(sys(format!("perf_event_open({}, cpu {cpu}, pid {pid})", target.source)))?;
                match &ring {
                    None => {
                        let r = RingBuffer::map(fd.as_fd(), opts.pages_log2)
                            .map_err(sys(format!("mmap of the perf ring of cpu {cpu}")))?;
                        // WATERMARK with wakeup 0: poll wakes when half the ring is full; its timeout
                        // covers slow streams.
                        ring = Some(r);
                    }
                    Some(_) => perf::set_output(fd.as_fd(), fds[0].as_fd())
                        .map_err(sys(format!("PERF_EVENT_IOC_SET_OUTPUT on cpu {cpu}")))?,
                }
                let id = perf::event_id(fd.as_fd()).map_err(sys("PERF_EVENT_IOC_ID"))?;
                ids.insert(id, ti);
                fds.push(fd);
            }
            if let Some(ring) = ring {
                rings.push(Ring { ring, fds });
            }
        }
        let targets: Vec<Target> = plans.into_iter().map(|(t, _, _)| t).collect();
        let pidfd = match opts.stop.exit_of {
            Some(p) => Some(perf::pidfd_open(p).map_err(sys(format!("pidfd_open({p})")))?),
            None => None,
        };
        let n = rings.len();
        let mut src = LiveSource {
            rings,
            targets,
            ids,
            pending: BinaryHeap::new(),
            release_before: 0,
            seq: 0,
            tasks: HashMap::new(),
            memories: HashMap::new(),
            no_memory: Arc::new(NoMemory),
            stats: LiveStats { per_cpu: vec![0; n], ..Default::default() },
            deadline: opts.stop.duration.map(|d| Instant::now() + d),
            stop: opts.stop,
            pidfd,
            finished: false,
            regs_count: uprobe::regs_count(),
            samples_read: 0,
            traced: None,
            held: false,
        };
        for r in &src.rings {
            for fd in &r.fds {
                perf::enable(fd.as_fd()).map_err(sys("PERF_EVENT_IOC_ENABLE"))?;
            }
        }
        if src.stop.hold_exit
            && let Some(p) = src.stop.exit_of
        {
            perf::ptrace_seize_exit(p).map_err(sys(format!("ptrace(PTRACE_SEIZE, {p}, PTRACE_O_TRACEEXIT)")))?;
            src.traced = Some(p);
        }
        Ok(src)
    }

    /// Counters so far (final once the iterator has ended).
    pub fn stats(&self) -> &LiveStats {
        &self.stats
    }

    /// Ends the stream at the next step (as the stop condition would).
    pub fn stop_now(&mut self) {
        self.deadline = Some(Instant::now());
    }

    fn task(&mut self, pid: u32, tid: u32) -> Option<Task> {
        if let Some(t) = self.tasks.get(&tid) {
            return *t;
        }
        let dir = format!("/proc/{pid}/task/{tid}");
        let comm = std::fs::read_to_string(format!("{dir}/comm")).ok();
        let status = std::fs::read_to_string(format!("{dir}/status")).ok();
        let t = match (comm, status) {
            (Some(c), Some(s)) => {
                let id = |key: &str| -> u32 {
                    s.lines()
                        .find_map(|l| l.strip_prefix(key))
                        .and_then(|r| r.split_whitespace().next())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                let mut comm = [0u8; 16];
                let b = c.trim_end_matches('\n').as_bytes();
                comm[..b.len().min(15)].copy_from_slice(&b[..b.len().min(15)]);
                Some(Task { comm, uid: id("Uid:"), gid: id("Gid:") })
            }
            _ => None,
        };
        self.tasks.insert(tid, t);
        t
    }

    fn memory(&mut self, pid: u32) -> Arc<dyn MemorySource> {
        if pid == 0 {
            return self.no_memory.clone();
        }
        self.memories.entry(pid).or_insert_with(|| Arc::new(ProcessMemory { pid })).clone()
    }

    /// Drains every ring into the heap.
    fn drain(&mut self) {
        let mut items: Vec<(u64, Item)> = Vec::new();
        let mut lost = 0u64;
        let mut malformed = 0u64;
        let mut per_cpu = vec![0u64; self.rings.len()];
        let regs_count = self.regs_count;
        let mut samples = 0u64;
        for (ci, r) in self.rings.iter_mut().enumerate() {
            per_cpu[ci] += r.ring.drain(|rec| match rec.kind {
                record::SAMPLE => {
                    samples += 1;
                    let decoded = decode_sample(&rec, &self.ids, &self.targets, regs_count, &self.no_memory);
                    match decoded {
                        Some((time, ev, blob, stack)) => items.push((time, Item::Event(Box::new(ev), blob, stack))),
                        None => malformed += 1,
                    }
                }
                record::COMM => {
                    // {u32 pid, tid; char comm[] (NUL, 8-aligned)} + 32-byte sample_id trailer.
                    let len = rec.len();
                    let (Some(tid), Some(time)) = (rec.u32_at(4), len.checked_sub(24).and_then(|o| rec.u64_at(o)))
                    else {
                        malformed += 1;
                        return;
                    };
                    let mut comm = [0u8; 16];
                    let n = len.saturating_sub(8 + 32).min(16);
                    rec.copy_to(8, &mut comm[..n]);
                    let end = comm.iter().position(|&b| b == 0).unwrap_or(15);
                    comm[end..].fill(0);
                    items.push((time, Item::Comm { tid, comm }));
                }
                record::LOST => lost += rec.u64_at(8).unwrap_or(0),
                record::LOST_SAMPLES => lost += rec.u64_at(0).unwrap_or(0),
                _ => {}
            }) as u64;
        }
        for (i, n) in per_cpu.into_iter().enumerate() {
            self.stats.per_cpu[i] += n;
        }
        self.stats.lost += lost;
        self.stats.malformed += malformed;
        self.samples_read += samples;
        for (time, mut item) in items {
            if let Item::Event(ev, blob, stack) = &mut item {
                // Look the task up now, while it most likely still exists.
                let (pid, tid) = (ev.meta.pid, ev.meta.tid);
                let _ = self.task(pid, tid);
                let mut below = self.memory(pid);
                if let Some((sp, bytes)) = stack.take() {
                    below = Arc::new(StackSnapshot { sp, bytes, below });
                }
                ev.memory = match blob.take() {
                    Some(top) => Arc::new(Overlay { top, below }),
                    None => below,
                };
            }
            self.seq += 1;
            self.pending.push(Reverse(Pending { time, seq: self.seq, item }));
        }
    }

    fn should_stop(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
            || self.stop.flag.as_ref().is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// Handles the held process's ptrace stops; true once it is in its exit stop.
    fn service_tracee(&mut self) -> bool {
        let Some(pid) = self.traced else { return false };
        loop {
            match perf::tracee_stop(pid) {
                Ok(perf::TraceeStop::None) | Err(_) => return self.held,
                Ok(perf::TraceeStop::Exit) => {
                    self.held = true;
                    return true;
                }
                Ok(perf::TraceeStop::GroupStop(_)) => {
                    let _ = perf::ptrace_listen(pid);
                }
                Ok(perf::TraceeStop::Event) => {
                    let _ = perf::ptrace_cont(pid, 0);
                }
                Ok(perf::TraceeStop::Signal(sig)) => {
                    let _ = perf::ptrace_cont(pid, sig);
                }
            }
        }
    }

    /// Lets the held process go (it finishes exiting, or runs on untraced).
    fn release_tracee(&mut self) {
        let Some(pid) = self.traced.take() else { return };
        if !self.held {
            // PTRACE_DETACH needs a stopped tracee.
            let _ = perf::ptrace_interrupt(pid);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(500) {
                match perf::tracee_stop(pid) {
                    Ok(perf::TraceeStop::None) => std::thread::sleep(Duration::from_millis(1)),
                    Ok(perf::TraceeStop::Signal(sig)) => {
                        // Deliver the pending signal, then stop it again for the detach.
                        let _ = perf::ptrace_cont(pid, sig);
                        let _ = perf::ptrace_interrupt(pid);
                    }
                    Ok(_) => break,
                    Err(_) => return,
                }
            }
        }
        let _ = perf::ptrace_detach(pid);
        self.held = false;
    }

    fn finish(&mut self) {
        for r in &self.rings {
            for fd in &r.fds {
                let _ = perf::disable(fd.as_fd());
            }
        }
        self.drain();
        // A PERF_RECORD_LOST is only written once the ring has room again, so losses just before the end
        // may never be reported as records: the counters are exact.
        let (mut fired, mut lost, mut all) = (0, 0, true);
        for r in &self.rings {
            for fd in &r.fds {
                match perf::read_count_lost(fd.as_fd()) {
                    Ok((c, l)) => {
                        fired += c;
                        lost += l;
                    }
                    Err(_) => all = false,
                }
            }
        }
        // The events' lost counters (like PERF_RECORD_LOST) also count non-sample records the ring had no
        // room for; samples lost are exactly the firings that never reached a ring.
        if all {
            self.stats.fired = fired;
            self.stats.lost = match fired.checked_sub(self.samples_read) {
                Some(missing) => missing,
                None => self.stats.lost.max(lost),
            };
        }
        self.finished = true;
    }
}

/// The perf `config` of a tracepoint: tracefs `events/CAT/NAME/id`.
fn tracepoint_id(category: &str, name: &str) -> Result<u64, LiveError> {
    let id_path = tracefs_root()?.join("events").join(category).join(name).join("id");
    std::fs::read_to_string(&id_path).map_err(sys(format!("reading {}", id_path.display())))?.trim().parse().map_err(
        |_| LiveError::Sys {
            what: format!("parsing {}", id_path.display()),
            source: std::io::ErrorKind::InvalidData.into(),
        },
    )
}

impl Drop for LiveSource {
    fn drop(&mut self) {
        self.release_tracee();
    }
}

/// (time, event) of a sample, or `None` if it does not decode.
fn decode_sample(
    rec: &perf::Record<'_>,
    ids: &HashMap<u64, usize>,
    targets: &[Target],
    regs_count: usize,
    no_memory: &Arc<dyn MemorySource>,
) -> Option<(u64, Event, Option<BlobMemory>, Option<UserStack>)> {
    // IDENTIFIER @0, pid/tid @8, time @16, cpu @24, then RAW and/or REGS_USER @32, then STACK_USER.
    let ti = *ids.get(&rec.u64_at(0)?)?;
    let target = &targets[ti];
    let (pid, tid) = (rec.u32_at(8)?, rec.u32_at(12)?);
    let time = rec.u64_at(16)?;
    let cpu = rec.u32_at(24)?;
    let regs_at = |off: usize| -> Option<Vec<u64>> {
        if rec.u64_at(off)? == 0 {
            return None; // PERF_SAMPLE_REGS_ABI_NONE: no user registers (a kernel thread).
        }
        (0..regs_count).map(|i| rec.u64_at(off + 8 + 8 * i)).collect()
    };
    let mut blob = None;
    let ctx = match target.decode {
        Decode::Raw => {
            let size = rec.u32_at(32)? as usize;
            let mut ctx = vec![0u8; size];
            rec.copy_to(36, &mut ctx).then_some(())?;
            ctx
        }
        Decode::Regs => uprobe::regs_to_pt_regs(&regs_at(32)?),
        Decode::RawSyscall => {
            // raw_syscalls record: id @8, then args[6] (enter) or ret (exit) @16. The RAW block is padded
            // so that REGS_USER starts 8-aligned right after it.
            let size = rec.u32_at(32)? as usize;
            let id = rec.u64_at(36 + 8)?;
            let arg1 = match &*target.source {
                EventSource::RawTracepoint { name } if name == "sys_exit" => rec.u64_at(36 + 16)?,
                _ => id,
            };
            let mut regs = uprobe::regs_to_pt_regs(&regs_at(36 + size)?);
            regs[120..128].copy_from_slice(&id.to_ne_bytes()); // orig_ax
            let mut m = BlobMemory::new();
            m.insert(RAW_TP_REGS_ADDR, regs).ok()?;
            blob = Some(m);
            [RAW_TP_REGS_ADDR.to_ne_bytes(), arg1.to_ne_bytes()].concat()
        }
    };
    let stack = if target.stack {
        let regs_off = match target.decode {
            Decode::Regs => 32,
            Decode::Raw | Decode::RawSyscall => 36 + rec.u32_at(32)? as usize,
        };
        user_stack(rec, regs_off, regs_count)
    } else {
        None
    };
    let meta = EventMeta { pid, tid, cpu, time_ns: time, ..Default::default() };
    let event = Event { source: target.source.clone(), meta, ctx, memory: no_memory.clone(), line: None };
    Some((time, event, blob, stack))
}

/// The (stack pointer, stack bytes) of a sample whose REGS_USER block starts at `regs_off` and is
/// followed by STACK_USER (u64 size, the bytes, u64 bytes actually copied). `None` for a task without
/// user registers.
fn user_stack(rec: &perf::Record<'_>, regs_off: usize, regs_count: usize) -> Option<UserStack> {
    if rec.u64_at(regs_off)? == 0 {
        return None; // PERF_SAMPLE_REGS_ABI_NONE
    }
    let sp = rec.u64_at(regs_off + 8 + 8 * uprobe::sp_index())?;
    let stack_off = regs_off + 8 + 8 * regs_count;
    let size = rec.u64_at(stack_off)? as usize;
    if size == 0 {
        return None;
    }
    let dyn_size = (rec.u64_at(stack_off + 8 + size)? as usize).min(size);
    let mut bytes = vec![0u8; dyn_size];
    rec.copy_to(stack_off + 8, &mut bytes).then_some(())?;
    Some((sp, bytes))
}

impl Iterator for LiveSource {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(Reverse(top)) = self.pending.peek()
                && (self.finished || top.time < self.release_before)
            {
                let Some(Reverse(p)) = self.pending.pop() else { continue };
                match p.item {
                    Item::Comm { tid, comm } => {
                        let e = self.tasks.entry(tid).or_insert(None);
                        match e {
                            Some(t) => t.comm = comm,
                            None => *e = Some(Task { comm, uid: 0, gid: 0 }),
                        }
                    }
                    Item::Event(mut ev, ..) => {
                        match self.tasks.get(&ev.meta.tid).copied().flatten() {
                            Some(t) => {
                                ev.meta.comm = t.comm;
                                ev.meta.uid = t.uid;
                                ev.meta.gid = t.gid;
                            }
                            // The idle task has no /proc entry; the kernel calls it swapper/CPU.
                            None if ev.meta.tid == 0 => {
                                if let Some(c) = super::comm_bytes(&format!("swapper/{}", ev.meta.cpu)) {
                                    ev.meta.comm = c;
                                }
                            }
                            None => self.stats.comm_unknown += 1,
                        }
                        self.stats.events += 1;
                        return Some(*ev);
                    }
                }
                continue;
            }
            if self.finished {
                self.release_tracee();
                return None;
            }
            if self.should_stop() || self.service_tracee() {
                self.finish();
                continue;
            }
            let max_wait: u64 = if self.traced.is_some() { 5 } else { 50 };
            let timeout = self.deadline.map_or(max_wait as i32, |d| {
                d.saturating_duration_since(Instant::now()).as_millis().min(u128::from(max_wait)) as i32
            });
            let mut fds: Vec<std::os::fd::BorrowedFd<'_>> = self.rings.iter().map(|r| r.fds[0].as_fd()).collect();
            if let Some(p) = &self.pidfd {
                fds.push(p.as_fd());
            }
            let ready = match perf::poll_in(&fds, timeout) {
                Ok(r) => r,
                Err(_) => vec![false; fds.len()],
            };
            let child_gone = self.pidfd.is_some() && ready.last().copied().unwrap_or(false);
            drop(fds);
            if child_gone {
                self.finish();
                continue;
            }
            let start = perf::monotonic_ns();
            self.drain();
            self.release_before = start.saturating_sub(SLACK_NS);
        }
    }
}
