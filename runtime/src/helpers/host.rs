//! The host state behind `env.host`: everything helpers need besides the invocation itself — the map
//! registry, the trace_printk stream, the pseudo-random generator, replayed memory for `probe_read`,
//! attach information (`get_func_ip`, `get_attach_cookie`), stack traces, and the engine hook that runs
//! BPF callbacks (`bpf_loop`, `bpf_for_each_map_elem`).
//!
//! One `HostState` serves every invocation of a runtime, on any number of threads: all of it is behind
//! atomics or locks, and helpers only ever see it through `&HostState` ([`HelperCtx::host_state`]).

use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Instant;

use crate::abi::EventMeta;
use crate::events::memory::{BlobMemory, MemorySource, NoMemory};
use crate::exec::HelperCtx;
use crate::maps::{MapRegistry, PerfSample, RingRecord};

/// One `bpf_trace_printk` / `bpf_trace_vprintk` line, with the event that printed it (the kernel's trace
/// pipe prefixes each line with comm-pid, cpu and timestamp).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceLine {
    /// The event the program ran on.
    pub event: EventMeta,
    /// The formatted message, as the program produced it (usually ending in `\n`).
    pub msg: String,
}

/// Memory of the traced system that `probe_read*` may read (replayed events carry these blobs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemBlob {
    /// Address of the first byte.
    pub addr: u64,
    /// The bytes.
    pub data: Vec<u8>,
}

/// Runs a BPF callback for the engine that called the helper: `func` is the value the program passed
/// (what `lddw rN, func` — `BPF_PSEUDO_FUNC` — produced in that engine), `args` are r1..r5 for the
/// callback. Returns the callback's r0, or `None` when `func` is not a callback of the running program
/// (the helper then traps). After it returns, the helper checks `env.status`: a callback that trapped or
/// tail-called stops the iteration.
///
/// The interpreter and the native binder each install one ([`HostState::set_callback_runner`]); they may
/// share one function that tells their encodings apart.
pub type CallbackRunner = fn(cx: &mut HelperCtx<'_>, func: u64, args: [u64; 5]) -> Option<u64>;

/// Stack traces the stack helpers report for the current event (instruction pointers, innermost first).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stacks {
    /// Kernel stack.
    pub kernel: Vec<u64>,
    /// User stack.
    pub user: Vec<u64>,
}

/// The runtime's private helper state (`Machine::host` / `env.host`).
pub struct HostState {
    maps: Arc<MapRegistry>,
    trace: Mutex<Vec<TraceLine>>,
    rng: AtomicU64,
    memory: RwLock<Arc<dyn MemorySource>>,
    callback: RwLock<Option<CallbackRunner>>,
    native_callbacks: RwLock<std::collections::HashSet<u64>>,
    func_ip: AtomicU64,
    attach_cookie: AtomicU64,
    stacks: RwLock<Stacks>,
    hz: u64,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState").field("maps", &self.maps).field("hz", &self.hz).finish_non_exhaustive()
    }
}

/// The kernel's `HZ` assumed for `bpf_jiffies64` (Debian's and Ubuntu's default).
pub const DEFAULT_HZ: u64 = 250;

/// Seed of the `bpf_get_prandom_u32` generator unless set otherwise: runs are reproducible.
pub const DEFAULT_PRANDOM_SEED: u64 = 0x6270_6663_7261_6e64;

impl HostState {
    /// Host state over `maps`.
    pub fn new(maps: Arc<MapRegistry>) -> HostState {
        HostState {
            maps,
            trace: Mutex::new(Vec::new()),
            rng: AtomicU64::new(DEFAULT_PRANDOM_SEED),
            memory: RwLock::new(Arc::new(NoMemory)),
            callback: RwLock::new(None),
            native_callbacks: RwLock::new(std::collections::HashSet::new()),
            func_ip: AtomicU64::new(0),
            attach_cookie: AtomicU64::new(0),
            stacks: RwLock::new(Stacks::default()),
            hz: DEFAULT_HZ,
        }
    }

    /// The value for `Machine::host`. The state must outlive every invocation bound with it.
    pub fn as_host_ptr(&self) -> *mut c_void {
        (self as *const HostState).cast_mut().cast()
    }

    /// The maps.
    pub fn maps(&self) -> &MapRegistry {
        &self.maps
    }

    /// The shared registry.
    pub fn maps_arc(&self) -> Arc<MapRegistry> {
        self.maps.clone()
    }

    /// Appends a trace line.
    pub fn push_trace(&self, event: EventMeta, msg: String) {
        self.trace.lock().unwrap_or_else(|e| e.into_inner()).push(TraceLine { event, msg });
    }

    /// Takes the trace lines printed so far.
    pub fn take_trace(&self) -> Vec<TraceLine> {
        std::mem::take(&mut *self.trace.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reseeds `bpf_get_prandom_u32`.
    pub fn seed_prandom(&self, seed: u64) {
        self.rng.store(seed, Ordering::Relaxed);
    }

    /// The next pseudo-random u32 (splitmix64 over an atomic counter: lock-free and thread-safe).
    pub fn prandom_u32(&self) -> u32 {
        let mut z = self.rng.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) as u32
    }

    /// Replaces the memory `probe_read*` can see with these blobs (overlapping blobs are dropped).
    pub fn set_memory(&self, blobs: Vec<MemBlob>) {
        let mut mem = BlobMemory::new();
        for b in blobs {
            let _ = mem.insert(b.addr, b.data);
        }
        self.set_memory_source(Arc::new(mem));
    }

    /// Replaces the memory `probe_read*` can see (the current event's: replayed blobs or a live process).
    pub fn set_memory_source(&self, source: Arc<dyn MemorySource>) {
        *self.memory.write().unwrap_or_else(|e| e.into_inner()) = source;
    }

    /// `len` bytes at `addr` when all of them are readable.
    pub fn read_memory(&self, addr: u64, len: usize) -> Option<Vec<u8>> {
        let mem = Arc::clone(&self.memory.read().unwrap_or_else(|e| e.into_inner()));
        let mut buf = vec![0; len];
        (mem.read(addr, &mut buf) == len).then_some(buf)
    }

    /// The readable bytes from `addr` on (at most `max`), for string reads; `None` if none is readable.
    pub fn read_memory_prefix(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let mem = Arc::clone(&self.memory.read().unwrap_or_else(|e| e.into_inner()));
        let mut buf = vec![0; max];
        let n = mem.read(addr, &mut buf);
        (n > 0).then(|| {
            buf.truncate(n);
            buf
        })
    }

    /// Registers native callback trampolines (from the code a binding loaded) that callbacks may run.
    pub fn allow_native_callbacks(&self, addrs: impl IntoIterator<Item = u64>) {
        self.native_callbacks.write().unwrap_or_else(|e| e.into_inner()).extend(addrs);
    }

    /// Whether `addr` is a registered native callback trampoline.
    pub fn is_native_callback(&self, addr: u64) -> bool {
        self.native_callbacks.read().unwrap_or_else(|e| e.into_inner()).contains(&addr)
    }

    /// Installs the engine hook that runs callbacks.
    pub fn set_callback_runner(&self, runner: CallbackRunner) {
        *self.callback.write().unwrap_or_else(|e| e.into_inner()) = Some(runner);
    }

    /// The callback hook, if installed.
    pub fn callback_runner(&self) -> Option<CallbackRunner> {
        *self.callback.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets what `bpf_get_func_ip` and `bpf_get_attach_cookie` return (the attach point of the program
    /// about to run).
    pub fn set_attach(&self, func_ip: u64, cookie: u64) {
        self.func_ip.store(func_ip, Ordering::Relaxed);
        self.attach_cookie.store(cookie, Ordering::Relaxed);
    }

    /// `bpf_get_func_ip`'s answer.
    pub fn func_ip(&self) -> u64 {
        self.func_ip.load(Ordering::Relaxed)
    }

    /// `bpf_get_attach_cookie`'s answer.
    pub fn attach_cookie(&self) -> u64 {
        self.attach_cookie.load(Ordering::Relaxed)
    }

    /// Sets the stacks of the current event.
    pub fn set_stacks(&self, stacks: Stacks) {
        *self.stacks.write().unwrap_or_else(|e| e.into_inner()) = stacks;
    }

    /// The stacks of the current event.
    pub fn stacks(&self) -> Stacks {
        self.stacks.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// `HZ` for `bpf_jiffies64`.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Takes every committed ring buffer record of every ringbuf map, by map fd (ascending fd, then
    /// record order).
    pub fn drain_ringbufs(&self) -> Vec<(u32, RingRecord)> {
        let mut out = Vec::new();
        for (fd, m) in self.maps.select(|m| m.ringbuf().is_some()) {
            if let Some(rb) = m.ringbuf() {
                out.extend(rb.drain().into_iter().map(|r| (fd, r)));
            }
        }
        out
    }

    /// Takes every perf event sample of every perf event array, by map fd, and the lost counts.
    pub fn drain_perf(&self) -> (Vec<(u32, PerfSample)>, u64) {
        let (mut out, mut lost) = (Vec::new(), 0);
        for (fd, m) in self.maps.select(|m| m.perf_events().is_some()) {
            if let Some(p) = m.perf_events() {
                let (samples, l) = p.drain();
                lost += l;
                out.extend(samples.into_iter().map(|s| (fd, s)));
            }
        }
        (out, lost)
    }
}

/// `CLOCK_MONOTONIC` in ns, without a system call wrapper: /proc/uptime anchors an `Instant` once (10 ms
/// resolution for the absolute value; differences are exact).
pub fn monotonic_ns() -> u64 {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    let (at, ns) = *BASE.get_or_init(|| {
        let up = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|f| f.parse::<f64>().ok()))
            .unwrap_or(0.0);
        (Instant::now(), (up * 1e9) as u64)
    });
    ns + at.elapsed().as_nanos() as u64
}
