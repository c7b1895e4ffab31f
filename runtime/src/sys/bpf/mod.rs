//! Safe wrappers over the Linux `bpf(2)` system call: load and test-run programs, create and operate on
//! maps, read object info, enable run-time statistics.
//!
//! This is bpfc's window onto the kernel as an *oracle*: the kernel's verifier (does it accept this
//! program?), its execution (`BPF_PROG_TEST_RUN`) and its maps are compared with ours in the testsuite.
//! Nothing in bpfc's normal compile-and-run path needs it.
//!
//! Design:
//! - one `unsafe` choke point, [`sys_bpf`], issues the call; each command builds its own zero-initialised
//!   `#[repr(C)]` attr (see `attr`) and passes only pointers into live Rust buffers whose lengths it
//!   checked against what the kernel will read or write (key and value sizes come from the map's own
//!   description, [`MapFd`], never from the caller's slice alone);
//! - every fd is an [`OwnedFd`], so nothing leaks and nothing is closed twice;
//! - errors are typed: [`SysError`] carries the command and the [`Errno`] (number and symbolic name), and
//!   [`LoadError`] adds the verifier log. A program load is retried with a bigger log buffer when the
//!   kernel reports the log was truncated (`ENOSPC`).

mod attr;
mod map;
mod prog;
mod ringbuf;
#[cfg(test)]
mod tests;

pub use map::*;
pub use prog::*;
pub use ringbuf::KernelRingBuf;

use std::fmt;
use std::os::fd::{AsRawFd, BorrowedFd};

/// `enum bpf_cmd` values used here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Cmd {
    /// `BPF_MAP_CREATE`
    MapCreate = 0,
    /// `BPF_MAP_LOOKUP_ELEM`
    MapLookupElem = 1,
    /// `BPF_MAP_UPDATE_ELEM`
    MapUpdateElem = 2,
    /// `BPF_MAP_DELETE_ELEM`
    MapDeleteElem = 3,
    /// `BPF_MAP_GET_NEXT_KEY`
    MapGetNextKey = 4,
    /// `BPF_PROG_LOAD`
    ProgLoad = 5,
    /// `BPF_PROG_TEST_RUN`
    ProgTestRun = 10,
    /// `BPF_PROG_GET_FD_BY_ID`
    ProgGetFdById = 13,
    /// `BPF_MAP_GET_FD_BY_ID`
    MapGetFdById = 14,
    /// `BPF_OBJ_GET_INFO_BY_FD`
    ObjGetInfoByFd = 15,
    /// `BPF_MAP_LOOKUP_AND_DELETE_ELEM`
    MapLookupAndDeleteElem = 21,
    /// `BPF_BTF_LOAD`
    BtfLoad = 18,
    /// `BPF_MAP_FREEZE`
    MapFreeze = 22,
    /// `BPF_ENABLE_STATS`
    EnableStats = 32,
}

impl Cmd {
    /// The kernel's name for the command.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::EnableStats => "BPF_ENABLE_STATS",
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `BPF_PROG_TYPE_SOCKET_FILTER`.
pub const BPF_PROG_TYPE_SOCKET_FILTER: u32 = 1;
/// `BPF_PROG_TYPE_KPROBE`.
pub const BPF_PROG_TYPE_KPROBE: u32 = 2;
/// `BPF_PROG_TYPE_SCHED_CLS`.
pub const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;
/// `BPF_PROG_TYPE_TRACEPOINT`.
pub const BPF_PROG_TYPE_TRACEPOINT: u32 = 5;
/// `BPF_PROG_TYPE_XDP`.
pub const BPF_PROG_TYPE_XDP: u32 = 6;
/// `BPF_PROG_TYPE_PERF_EVENT`.
pub const BPF_PROG_TYPE_PERF_EVENT: u32 = 7;
/// `BPF_PROG_TYPE_RAW_TRACEPOINT`.
pub const BPF_PROG_TYPE_RAW_TRACEPOINT: u32 = 17;
/// `BPF_PROG_TYPE_TRACING`.
pub const BPF_PROG_TYPE_TRACING: u32 = 26;
/// `BPF_PROG_TYPE_SYSCALL`: runs only through `BPF_PROG_TEST_RUN`, loads only as sleepable.
pub const BPF_PROG_TYPE_SYSCALL: u32 = 31;

/// `BPF_MAP_TYPE_HASH`.
pub const BPF_MAP_TYPE_HASH: u32 = 1;
/// `BPF_MAP_TYPE_ARRAY`.
pub const BPF_MAP_TYPE_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_PROG_ARRAY`.
pub const BPF_MAP_TYPE_PROG_ARRAY: u32 = 3;
/// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`.
pub const BPF_MAP_TYPE_PERF_EVENT_ARRAY: u32 = 4;
/// `BPF_MAP_TYPE_PERCPU_HASH`.
pub const BPF_MAP_TYPE_PERCPU_HASH: u32 = 5;
/// `BPF_MAP_TYPE_PERCPU_ARRAY`.
pub const BPF_MAP_TYPE_PERCPU_ARRAY: u32 = 6;
/// `BPF_MAP_TYPE_STACK_TRACE`.
pub const BPF_MAP_TYPE_STACK_TRACE: u32 = 7;
/// `BPF_MAP_TYPE_LRU_HASH`.
pub const BPF_MAP_TYPE_LRU_HASH: u32 = 9;
/// `BPF_MAP_TYPE_LRU_PERCPU_HASH`.
pub const BPF_MAP_TYPE_LRU_PERCPU_HASH: u32 = 10;
/// `BPF_MAP_TYPE_LPM_TRIE`.
pub const BPF_MAP_TYPE_LPM_TRIE: u32 = 11;
/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`.
pub const BPF_MAP_TYPE_ARRAY_OF_MAPS: u32 = 12;
/// `BPF_MAP_TYPE_HASH_OF_MAPS`.
pub const BPF_MAP_TYPE_HASH_OF_MAPS: u32 = 13;
/// `BPF_MAP_TYPE_QUEUE`.
pub const BPF_MAP_TYPE_QUEUE: u32 = 22;
/// `BPF_MAP_TYPE_STACK`.
pub const BPF_MAP_TYPE_STACK: u32 = 23;
/// `BPF_MAP_TYPE_RINGBUF`.
pub const BPF_MAP_TYPE_RINGBUF: u32 = 27;
/// `BPF_MAP_TYPE_BLOOM_FILTER`.
pub const BPF_MAP_TYPE_BLOOM_FILTER: u32 = 30;

/// Update flag `BPF_ANY`: create or replace.
pub const BPF_ANY: u64 = 0;
/// Update flag `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// Update flag `BPF_EXIST`: replace only.
pub const BPF_EXIST: u64 = 2;
/// Lookup/update flag `BPF_F_LOCK`: take the value's `bpf_spin_lock`.
pub const BPF_F_LOCK: u64 = 4;

/// Map flag `BPF_F_NO_PREALLOC`.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// Map flag `BPF_F_NO_COMMON_LRU`.
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
/// Map flag `BPF_F_RDONLY`.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// Map flag `BPF_F_WRONLY`.
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// Map flag `BPF_F_RDONLY_PROG`.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// Map flag `BPF_F_WRONLY_PROG`.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// Map flag `BPF_F_MMAPABLE`.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// Program flag `BPF_F_STRICT_ALIGNMENT`.
pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
/// Program flag `BPF_F_ANY_ALIGNMENT`.
pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
/// Program flag `BPF_F_TEST_RND_HI32`: the verifier randomises upper halves it proved dead.
pub const BPF_F_TEST_RND_HI32: u32 = 1 << 2;
/// Program flag `BPF_F_SLEEPABLE`.
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;

/// Test-run flag `BPF_F_TEST_RUN_ON_CPU`.
pub const BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;

/// `BPF_PSEUDO_MAP_FD` (lddw src 1).
pub const BPF_PSEUDO_MAP_FD: u8 = 1;
/// `BPF_PSEUDO_MAP_VALUE` (lddw src 2).
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;

/// `BPF_STATS_RUN_TIME`: the only kind of statistics `BPF_ENABLE_STATS` knows.
pub const BPF_STATS_RUN_TIME: u32 = 0;

/// Verifier log level 1: the log of a failed load (and states at branches).
pub const LOG_LEVEL_BRANCH: u32 = 1;
/// Verifier log level 2: every instruction with its register state.
pub const LOG_LEVEL_INSN: u32 = 2;
/// Verifier log level 4: statistics only (`verification time ... processed N insns`).
pub const LOG_LEVEL_STATS: u32 = 4;

/// An `errno` value, displayed with its symbolic name.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// `EPERM`
    pub const EPERM: Errno = Errno(libc::EPERM);
    /// `ENOENT`
    pub const ENOENT: Errno = Errno(libc::ENOENT);
    /// `E2BIG`
    pub const E2BIG: Errno = Errno(libc::E2BIG);
    /// `EEXIST`
    pub const EEXIST: Errno = Errno(libc::EEXIST);
    /// `EINVAL`
    pub const EINVAL: Errno = Errno(libc::EINVAL);
    /// `ENOSPC`
    pub const ENOSPC: Errno = Errno(libc::ENOSPC);
    /// `EACCES`
    pub const EACCES: Errno = Errno(libc::EACCES);
    /// `EBUSY`
    pub const EBUSY: Errno = Errno(libc::EBUSY);
    /// `ENOTSUPP` (524): the kernel-internal "not supported" that bpf() leaks to user space.
    pub const ENOTSUPP: Errno = Errno(524);

    /// The symbolic name (`"ENOENT"`), or `"E?"` for numbers this table does not know.
    pub fn name(self) -> &'static str {
        match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::E2BIG => "E2BIG",
            libc::EBADF => "EBADF",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::ENODEV => "ENODEV",
            libc::EINVAL => "EINVAL",
            libc::ENFILE => "ENFILE",
            libc::EMFILE => "EMFILE",
            libc::ENOSPC => "ENOSPC",
            libc::ERANGE => "ERANGE",
            libc::ENOSYS => "ENOSYS",
            libc::ELOOP => "ELOOP",
            libc::EOVERFLOW => "EOVERFLOW",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::ETIMEDOUT => "ETIMEDOUT",
            524 => "ENOTSUPP",
            _ => "E?",
        }
    }

    fn last() -> Errno {
        Errno(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // ENOTSUPP is not a user-space errno, so libc's strerror calls it "Unknown error 524".
        let text = if self.0 == 524 {
            "operation not supported (kernel ENOTSUPP)".to_string()
        } else {
            std::io::Error::from_raw_os_error(self.0).to_string()
        };
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        write!(f, "{} ({}): {}", self.name(), self.0, text)
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

/// A failed `bpf()` command, or arguments refused before the call.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SysError {
    /// The kernel returned an error.
    #[error("bpf({cmd}): {errno}")]
    Kernel {
        /// The command.
        cmd: Cmd,
        /// What the kernel said.
        errno: Errno,
    },
    /// The arguments cannot be passed to the kernel as they are (wrong key length, name too long, ...).
    #[error("bpf({cmd}): invalid argument: {reason}")]
    Invalid {
        /// The command.
        cmd: Cmd,
        /// What is wrong.
        reason: String,
    },
}

impl SysError {
    /// The kernel's errno, if the kernel was called.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            SysError::Kernel { errno, .. } => Some(*errno),
            SysError::Invalid { .. } => None,
        }
    }
}

/// A failed `BPF_PROG_LOAD` or `BPF_BTF_LOAD`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The kernel refused the program; `log` is the verifier's log (empty at log level 0).
    #[error("bpf({cmd}): {errno}{}", log_tail(log))]
    Rejected {
        /// `BPF_PROG_LOAD` or `BPF_BTF_LOAD`.
        cmd: Cmd,
        /// What the kernel said.
        errno: Errno,
        /// The verifier log.
        log: String,
    },
    /// The arguments cannot be passed to the kernel as they are.
    #[error("bpf({cmd}): invalid argument: {reason}")]
    Invalid {
        /// `BPF_PROG_LOAD` or `BPF_BTF_LOAD`.
        cmd: Cmd,
        /// What is wrong.
        reason: String,
    },
}

impl LoadError {
    /// The kernel's errno, if the kernel was called.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            LoadError::Rejected { errno, .. } => Some(*errno),
            LoadError::Invalid { .. } => None,
        }
    }

    /// The verifier log ("" when there is none).
    pub fn log(&self) -> &str {
        match self {
            LoadError::Rejected { log, .. } => log,
            LoadError::Invalid { .. } => "",
        }
    }

    /// The verifier's reason in one line: the last non-empty log line that is not the statistics
    /// trailer (`processed N insns ...`), or the errno when there is no log.
    pub fn reason(&self) -> String {
        match self {
            LoadError::Rejected { errno, log, .. } => log
                .lines()
                .rev()
                .map(str::trim)
                .find(|l| !l.is_empty() && !l.starts_with("processed ") && !l.starts_with("verification time"))
                .map_or_else(|| errno.to_string(), str::to_string),
            LoadError::Invalid { reason, .. } => reason.clone(),
        }
    }
}

fn log_tail(log: &str) -> String {
    if log.trim().is_empty() { String::new() } else { format!("\nverifier log:\n{}", log.trim_end()) }
}

/// Issues `bpf(cmd, attr, size_of::<A>())`, returning the non-negative result.
///
/// # Safety
/// `attr` must be the attr struct the kernel expects for `cmd`, and every user pointer in it must point
/// to a live buffer at least as long as the kernel will read or write for that command (the lengths
/// given in the same attr, or the map's key/value size).
unsafe fn sys_bpf<A>(cmd: Cmd, attr: &mut A) -> Result<i64, SysError> {
    // SAFETY: `attr` is a valid, exclusively borrowed `#[repr(C)]` struct of exactly the size we pass;
    // the kernel reads it and may write outputs back into it. Pointer validity is the caller's contract.
    let r =
        unsafe { libc::syscall(libc::SYS_bpf, cmd as u32 as libc::c_long, attr as *mut A, std::mem::size_of::<A>()) };
    if r < 0 { Err(SysError::Kernel { cmd, errno: Errno::last() }) } else { Ok(r) }
}

/// Wraps a fd the kernel just returned.
fn owned_fd(raw: i64) -> std::os::fd::OwnedFd {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: `raw` is a fresh file descriptor returned by a successful bpf() call that created a new
    // fd; nothing else owns it, so the OwnedFd becomes its sole owner and closes it once.
    unsafe { OwnedFd::from_raw_fd(raw as i32) }
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Encodes an object name for `map_name`/`prog_name`: at most 15 bytes of `[A-Za-z0-9_.]`, NUL-padded,
/// which is what the kernel accepts (it returns `EINVAL` otherwise).
fn obj_name(cmd: Cmd, name: &str) -> Result<[u8; 16], SysError> {
    let mut out = [0u8; 16];
    if name.len() > 15 {
        return Err(SysError::Invalid { cmd, reason: format!("object name `{name}` is longer than 15 bytes") });
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.')) {
        return Err(SysError::Invalid { cmd, reason: format!("object name `{name}` contains `{c}`") });
    }
    out[..name.len()].copy_from_slice(name.as_bytes());
    Ok(out)
}

fn c_name(raw: &[u8]) -> String {
    let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// A user pointer the kernel only reads through.
fn ptr_or_null(s: &[u8]) -> u64 {
    if s.is_empty() { 0 } else { s.as_ptr() as u64 }
}

/// A user pointer the kernel may write through: derived from a unique borrow, never a shared one.
fn mut_ptr_or_null(s: &mut [u8]) -> u64 {
    if s.is_empty() { 0 } else { s.as_mut_ptr() as u64 }
}

/// Checks that this process can use bpf() well enough for the oracle tests: load a two-instruction
/// `BPF_PROG_TYPE_SYSCALL` program (sleepable) and run it with `BPF_PROG_TEST_RUN`, and create an array
/// map. The error says which step failed and why (no permission, bpf() disabled, kernel too old, ...).
pub fn kernel_bpf_available() -> Result<(), String> {
    // mov r0, 42; exit
    let insns: [u8; 16] = [0xb7, 0, 0, 0, 42, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
    let prog = prog_load(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SYSCALL,
        insns: &insns,
        license: "GPL",
        flags: BPF_F_SLEEPABLE,
        prog_name: "bpfc_probe",
        ..ProgLoad::default()
    })
    .map_err(|e| format!("cannot load a BPF_PROG_TYPE_SYSCALL program: {e}"))?;
    let run = prog_test_run(std::os::fd::AsFd::as_fd(&prog), &TestRun::default())
        .map_err(|e| format!("cannot run a program with BPF_PROG_TEST_RUN: {e}"))?;
    if run.retval != 42 {
        return Err(format!("BPF_PROG_TEST_RUN returned {} for a program returning 42", run.retval));
    }
    map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        name: "bpfc_probe",
        ..MapCreate::default()
    })
    .map_err(|e| format!("cannot create an array map: {e}"))?;
    Ok(())
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`): per-CPU map values hold one slot per
/// possible CPU, each rounded up to 8 bytes.
pub fn possible_cpus() -> Result<usize, String> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")
        .map_err(|e| format!("/sys/devices/system/cpu/possible: {e}"))?;
    parse_cpu_list(text.trim()).ok_or_else(|| format!("/sys/devices/system/cpu/possible: cannot parse `{text}`"))
}

/// Parses a kernel cpu list (`0-3,5`) and returns the highest CPU number + 1.
fn parse_cpu_list(text: &str) -> Option<usize> {
    let mut max = None;
    for part in text.split(',') {
        let last = match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?);
                if b < a {
                    return None;
                }
                b
            }
            None => part.parse::<usize>().ok()?,
        };
        max = Some(max.map_or(last, |m: usize| m.max(last)));
    }
    max.map(|m| m + 1)
}
