//! Live-event system calls: `perf_event_open(2)` with its mmap'd ring buffers and ioctls,
//! `process_vm_readv(2)` for reading a traced process's memory, `pidfd_open(2)` to notice a process's
//! exit, `ptrace(2)`/`waitid(2)` to hold a process at its exit until its events are consumed, `poll(2)` and
//! `CLOCK_MONOTONIC`.
//!
//! Ring buffer protocol (`include/uapi/linux/perf_event.h`, "perf_event_mmap_page"): the first page is the
//! control page, followed by 2^n data pages. The kernel writes records and then publishes `data_head`; we
//! load `data_head` with acquire ordering, read the records between our `data_tail` and it, and store the
//! new `data_tail` with release ordering, which hands the space back. Records never move while they lie
//! between tail and head, so [`Record`] lends them as (at most two, where the buffer wraps) byte slices
//! straight out of the mapping: the caller copies what it keeps exactly once.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// `PERF_TYPE_TRACEPOINT`.
pub const TYPE_TRACEPOINT: u32 = 2;

/// `PERF_SAMPLE_*` bits.
pub mod sample {
    /// Instruction pointer.
    pub const IP: u64 = 1 << 0;
    /// pid and tid.
    pub const TID: u64 = 1 << 1;
    /// Timestamp.
    pub const TIME: u64 = 1 << 2;
    /// CPU.
    pub const CPU: u64 = 1 << 7;
    /// Raw tracepoint record.
    pub const RAW: u64 = 1 << 10;
    /// User registers.
    pub const REGS_USER: u64 = 1 << 12;
    /// `PERF_SAMPLE_STACK_USER`
    pub const STACK_USER: u64 = 1 << 13;
    /// The event id, first in samples and last in other records.
    pub const IDENTIFIER: u64 = 1 << 16;
}

/// `PERF_FORMAT_LOST` (Linux 6.0): `read(2)` of an event gives `{u64 count; u64 lost;}`.
pub const FORMAT_LOST: u64 = 1 << 4;

/// `read(2)` of an event opened with `read_format = FORMAT_LOST`: (times it fired, samples it lost).
pub fn read_count_lost(fd: BorrowedFd<'_>) -> io::Result<(u64, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::from(fd.try_clone_to_owned()?);
    let mut b = [0u8; 16];
    f.read_exact(&mut b)?;
    Ok((
        u64::from_ne_bytes(b[..8].try_into().unwrap_or_default()),
        u64::from_ne_bytes(b[8..].try_into().unwrap_or_default()),
    ))
}

/// `PERF_RECORD_*` types.
pub mod record {
    /// Records were lost (ring full): `{u64 id; u64 lost}`.
    pub const LOST: u32 = 2;
    /// A task's comm changed: `{u32 pid, tid; char comm[]}`.
    pub const COMM: u32 = 3;
    /// A sample.
    pub const SAMPLE: u32 = 9;
    /// Samples were lost before reaching the ring: `{u64 lost}`.
    pub const LOST_SAMPLES: u32 = 13;
}

/// `perf_event_attr` flag bits (the bitfield word).
pub mod flag {
    /// Start disabled.
    pub const DISABLED: u64 = 1 << 0;
    /// Children inherit the event.
    pub const INHERIT: u64 = 1 << 1;
    /// Emit `PERF_RECORD_COMM`.
    pub const COMM: u64 = 1 << 9;
    /// `wakeup_watermark` is in bytes.
    pub const WATERMARK: u64 = 1 << 14;
    /// Non-sample records carry the sample id fields.
    pub const SAMPLE_ID_ALL: u64 = 1 << 18;
    /// Timestamps use `clockid`.
    pub const USE_CLOCKID: u64 = 1 << 25;
}

/// `struct perf_event_attr` (`PERF_ATTR_SIZE_VER8`, 136 bytes).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PerfEventAttr {
    /// `type`
    pub type_: u32,
    /// `size`
    pub size: u32,
    /// `config`
    pub config: u64,
    /// `sample_period`
    pub sample_period: u64,
    /// `sample_type`
    pub sample_type: u64,
    /// `read_format`
    pub read_format: u64,
    /// The bitfield word ([`flag`]).
    pub flags: u64,
    /// `wakeup_events` / `wakeup_watermark`
    pub wakeup: u32,
    /// `bp_type`
    pub bp_type: u32,
    /// `config1` (`uprobe_path`)
    pub config1: u64,
    /// `config2` (`probe_offset`)
    pub config2: u64,
    /// `branch_sample_type`
    pub branch_sample_type: u64,
    /// `sample_regs_user`
    pub sample_regs_user: u64,
    /// `sample_stack_user`
    pub sample_stack_user: u32,
    /// `clockid`
    pub clockid: i32,
    /// `sample_regs_intr`
    pub sample_regs_intr: u64,
    /// `aux_watermark`
    pub aux_watermark: u32,
    /// `sample_max_stack`
    pub sample_max_stack: u16,
    /// reserved
    pub reserved2: u16,
    /// `aux_sample_size`
    pub aux_sample_size: u32,
    /// reserved
    pub reserved3: u32,
    /// `sig_data`
    pub sig_data: u64,
    /// `config3`
    pub config3: u64,
}

const _: () = assert!(std::mem::size_of::<PerfEventAttr>() == 136);

/// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`. `attr.config1` may hold a pointer to a
/// NUL-terminated path (uprobes): pass it as `path` and it is set here, so it is alive during the call.
pub fn perf_event_open(attr: &PerfEventAttr, path: Option<&std::ffi::CStr>, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
    let mut a = *attr;
    a.size = std::mem::size_of::<PerfEventAttr>() as u32;
    if let Some(p) = path {
        a.config1 = p.as_ptr() as u64;
    }
    // SAFETY: `a` is a fully initialised `perf_event_attr` of the size we declare; the path pointer in
    // config1 (if any) points into `path`, which outlives the call; the kernel copies both.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &a as *const PerfEventAttr,
            pid,
            cpu,
            -1 as libc::c_int,
            PERF_FLAG_FD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn ioctl(fd: BorrowedFd<'_>, req: libc::c_ulong, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the requests used here take an integer (or, for ID, a pointer to a u64 that the caller
    // passes as `arg` and keeps alive); `fd` is a live perf event fd.
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn enable(fd: BorrowedFd<'_>) -> io::Result<()> {
    ioctl(fd, 0x2400, 0)
}

/// `PERF_EVENT_IOC_SET_BPF`: run BPF program `prog` whenever the event fires (a kernel-side attach).
pub fn attach_bpf(fd: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> io::Result<()> {
    ioctl(fd, 0x4004_2408, prog.as_raw_fd() as libc::c_ulong)
}

/// `PERF_EVENT_IOC_DISABLE`.
pub fn disable(fd: BorrowedFd<'_>) -> io::Result<()> {
    ioctl(fd, 0x2401, 0)
}

/// `PERF_EVENT_IOC_SET_OUTPUT`: `fd`'s records go to `target`'s ring (same CPU).
pub fn set_output(fd: BorrowedFd<'_>, target: BorrowedFd<'_>) -> io::Result<()> {
    ioctl(fd, 0x2405, target.as_raw_fd() as libc::c_ulong)
}

/// `PERF_EVENT_IOC_ID`: the id samples carry in `PERF_SAMPLE_IDENTIFIER`.
pub fn event_id(fd: BorrowedFd<'_>) -> io::Result<u64> {
    let mut id = 0u64;
    // _IOR('$', 7, u64)
    ioctl(fd, 0x8008_2407, &mut id as *mut u64 as libc::c_ulong)?;
    Ok(id)
}

/// `clock_gettime(CLOCK_MONOTONIC)` in ns: the clock samples are stamped with.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// `pidfd_open(pid, 0)`: an fd that polls readable once the process has exited.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0 as libc::c_uint) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh fd from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `poll(2)` for input on `fds`; returns which are ready. `EINTR` counts as "nothing ready".
pub fn poll_in(fds: &[BorrowedFd<'_>], timeout_ms: i32) -> io::Result<Vec<bool>> {
    let mut p: Vec<libc::pollfd> =
        fds.iter().map(|f| libc::pollfd { fd: f.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
    // SAFETY: `p` is a live array of `p.len()` pollfds.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(p.iter().map(|x| x.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0).collect())
}

/// The online CPUs (`/sys/devices/system/cpu/online`, e.g. `0-3,5`).
pub fn online_cpus() -> io::Result<Vec<u32>> {
    let text = std::fs::read_to_string("/sys/devices/system/cpu/online")?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad cpu list `{}`", text.trim()));
    let mut cpus = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
        cpus.extend(a..=b);
    }
    Ok(cpus)
}

/// A perf event's mmap'd ring buffer.
pub struct RingBuffer {
    base: *mut u8,
    map_len: usize,
    data_off: usize,
    data_size: usize,
}

// SAFETY: the mapping is owned by this value; nothing else in the process refers to it.
unsafe impl Send for RingBuffer {}

impl std::fmt::Debug for RingBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RingBuffer({} bytes)", self.data_size)
    }
}

/// One record, lent from the ring: `kind`, and its body (after the 8-byte header) as up to two slices.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    /// `PERF_RECORD_*`.
    pub kind: u32,
    /// `misc` bits of the header.
    pub misc: u16,
    first: &'a [u8],
    second: &'a [u8],
}

impl Record<'_> {
    /// Body length.
    pub fn len(&self) -> usize {
        self.first.len() + self.second.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies body bytes `off..off + dst.len()` into `dst`; false if out of range.
    pub fn copy_to(&self, off: usize, dst: &mut [u8]) -> bool {
        let Some(end) = off.checked_add(dst.len()) else { return false };
        if end > self.len() {
            return false;
        }
        let n1 = self.first.len();
        if end <= n1 {
            dst.copy_from_slice(&self.first[off..end]);
        } else if off >= n1 {
            dst.copy_from_slice(&self.second[off - n1..end - n1]);
        } else {
            let k = n1 - off;
            dst[..k].copy_from_slice(&self.first[off..]);
            dst[k..].copy_from_slice(&self.second[..end - n1]);
        }
        true
    }

    /// The u64 at body offset `off`.
    pub fn u64_at(&self, off: usize) -> Option<u64> {
        let mut b = [0u8; 8];
        self.copy_to(off, &mut b).then(|| u64::from_ne_bytes(b))
    }

    /// The u32 at body offset `off`.
    pub fn u32_at(&self, off: usize) -> Option<u32> {
        let mut b = [0u8; 4];
        self.copy_to(off, &mut b).then(|| u32::from_ne_bytes(b))
    }
}

impl RingBuffer {
    /// Maps the ring of perf event `fd` with `1 << pages_log2` data pages.
    pub fn map(fd: BorrowedFd<'_>, pages_log2: u32) -> io::Result<RingBuffer> {
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        let data = page << pages_log2;
        let map_len = page + data;
        // SAFETY: a fresh shared mapping of the perf fd at offset 0, as perf_event_open(2) documents; the
        // kernel validates the length (1 + 2^n pages).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = base.cast::<u8>();
        let mut ring = RingBuffer { base, map_len, data_off: page, data_size: data };
        // Kernels since 4.1 publish where the data area is; older ones put it right after the first page.
        let (off, size) = (ring.ctl(1040).load(Ordering::Relaxed), ring.ctl(1048).load(Ordering::Relaxed));
        if size != 0 && off as usize + size as usize <= map_len && size.is_power_of_two() {
            ring.data_off = off as usize;
            ring.data_size = size as usize;
        }
        Ok(ring)
    }

    /// Data area size in bytes.
    pub fn data_size(&self) -> usize {
        self.data_size
    }

    /// The u64 at `off` in the control page, as an atomic (`data_head` 1024, `data_tail` 1032).
    fn ctl(&self, off: usize) -> &AtomicU64 {
        // SAFETY: `off` is one of the 8-aligned control-page fields (< one page), inside the live mapping;
        // the kernel updates them concurrently, hence atomic access.
        unsafe { AtomicU64::from_ptr(self.base.add(off).cast::<u64>()) }
    }

    /// Calls `f` for every record the kernel has published, then hands their space back.
    /// Returns the number of records read.
    pub fn drain(&mut self, mut f: impl FnMut(Record<'_>)) -> usize {
        let head = self.ctl(1024).load(Ordering::Acquire);
        let mut tail = self.ctl(1032).load(Ordering::Relaxed);
        let mask = self.data_size as u64 - 1;
        // SAFETY: the data area lies inside the mapping; bytes between tail and head are written by the
        // kernel before it published `head` (acquire above) and are not touched again until we store the
        // new tail below, so shared slices of them are stable for the duration of this call.
        let data: &[u8] = unsafe { std::slice::from_raw_parts(self.base.add(self.data_off), self.data_size) };
        let mut n = 0;
        while head.wrapping_sub(tail) >= 8 {
            let at = |pos: u64, len: usize| -> (&[u8], &[u8]) {
                let start = (pos & mask) as usize;
                let first = len.min(self.data_size - start);
                (&data[start..start + first], &data[..len - first])
            };
            let (h1, h2) = at(tail, 8);
            let mut hdr = [0u8; 8];
            hdr[..h1.len()].copy_from_slice(h1);
            hdr[h1.len()..].copy_from_slice(h2);
            let kind = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
            let misc = u16::from_ne_bytes([hdr[4], hdr[5]]);
            let size = u16::from_ne_bytes([hdr[6], hdr[7]]) as u64;
            if size < 8 || size > head.wrapping_sub(tail) {
                // A corrupt header: skip everything published rather than loop forever.
                tail = head;
                break;
            }
            let (first, second) = at(tail + 8, size as usize - 8);
            f(Record { kind, misc, first, second });
            n += 1;
            tail = tail.wrapping_add(size);
        }
        self.ctl(1032).store(tail, Ordering::Release);
        n
    }
}

impl Drop for RingBuffer {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping created in `map`; no slices into it outlive `drain`.
        unsafe { libc::munmap(self.base.cast(), self.map_len) };
    }
}

/// Copies up to `buf.len()` bytes at `addr` in process `pid` into `buf`; returns the length of the readable
/// prefix (0 when the process is gone or the first byte is unmapped). The remote range is split at page
/// boundaries because the kernel stops a partial transfer at an iovec boundary: so the prefix is exact.
pub fn process_vm_read(pid: u32, addr: u64, buf: &mut [u8]) -> usize {
    const PAGE: u64 = 4096;
    const MAX_IOV: usize = 64;
    let mut done = 0usize;
    while done < buf.len() {
        let mut remote: Vec<libc::iovec> = Vec::with_capacity(MAX_IOV);
        let mut cur = addr.wrapping_add(done as u64);
        let mut planned = 0usize;
        while done + planned < buf.len() && remote.len() < MAX_IOV {
            if cur.checked_add(1).is_none() {
                break;
            }
            let page_left = PAGE - (cur % PAGE);
            let n = (page_left as usize).min(buf.len() - done - planned);
            remote.push(libc::iovec { iov_base: cur as usize as *mut libc::c_void, iov_len: n });
            planned += n;
            match cur.checked_add(n as u64) {
                Some(c) => cur = c,
                None => break,
            }
        }
        if planned == 0 {
            break;
        }
        let local = libc::iovec { iov_base: buf[done..].as_mut_ptr().cast(), iov_len: planned };
        // SAFETY: `local` covers `planned` bytes of `buf[done..]`, which is live and exclusively borrowed
        // for the call; the remote iovecs only name addresses in the other process, which the kernel
        // checks; `remote` outlives the call.
        let r = unsafe {
            libc::process_vm_readv(pid as libc::pid_t, &local, 1, remote.as_ptr(), remote.len() as libc::c_ulong, 0)
        };
        if r <= 0 {
            break;
        }
        done += r as usize;
        if (r as usize) < planned {
            break;
        }
    }
    done
}

/// What a seized tracee reported (see [`tracee_stop`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceeStop {
    /// Nothing new.
    None,
    /// `PTRACE_EVENT_EXIT`: the process is exiting, its memory still mapped, until we let it go.
    Exit,
    /// A group-stop (stop signal `sig`) of a seized tracee: keep it stopped with `PTRACE_LISTEN`.
    GroupStop(i32),
    /// Another ptrace event stop (e.g. the re-trap after SIGCONT): resume it.
    Event,
    /// A signal is about to be delivered: resume it with the signal.
    Signal(i32),
}

const PTRACE_CONT: libc::c_long = 7;
const PTRACE_DETACH: libc::c_long = 17;
const PTRACE_SEIZE: libc::c_long = 0x4206;
const PTRACE_INTERRUPT: libc::c_long = 0x4207;
const PTRACE_LISTEN: libc::c_long = 0x4208;
const PTRACE_O_TRACEEXIT: libc::c_long = 0x40;
const PTRACE_EVENT_EXIT: i32 = 6;
const PTRACE_EVENT_STOP: i32 = 128;

fn ptrace(req: libc::c_long, pid: u32, data: libc::c_long) -> io::Result<()> {
    // SAFETY: the requests used here take no pointers (addr 0, data an integer).
    let r = unsafe { libc::syscall(libc::SYS_ptrace, req, pid as libc::pid_t, 0 as libc::c_long, data) };
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// `PTRACE_SEIZE` with `PTRACE_O_TRACEEXIT`: the process stops at its exit (before its memory is torn
/// down) until [`ptrace_detach`]. Only the calling thread may then wait for and continue it.
pub fn ptrace_seize_exit(pid: u32) -> io::Result<()> {
    ptrace(PTRACE_SEIZE, pid, PTRACE_O_TRACEEXIT)
}

/// `PTRACE_CONT`, delivering `sig` (0 for none).
pub fn ptrace_cont(pid: u32, sig: i32) -> io::Result<()> {
    ptrace(PTRACE_CONT, pid, libc::c_long::from(sig))
}

/// `PTRACE_LISTEN`: stay in group-stop but let SIGCONT wake the tracee.
pub fn ptrace_listen(pid: u32) -> io::Result<()> {
    ptrace(PTRACE_LISTEN, pid, 0)
}

/// `PTRACE_INTERRUPT`: make a running seized tracee stop so it can be detached.
pub fn ptrace_interrupt(pid: u32) -> io::Result<()> {
    ptrace(PTRACE_INTERRUPT, pid, 0)
}

/// `PTRACE_DETACH` (the tracee must be in a ptrace stop).
pub fn ptrace_detach(pid: u32) -> io::Result<()> {
    ptrace(PTRACE_DETACH, pid, 0)
}

/// Non-blocking `waitid(P_PID, pid, WSTOPPED | WNOHANG | __WALL)`: reports ptrace stops only, never
/// reaps an exit (so the process's parent can still wait for it).
pub fn tracee_stop(pid: u32) -> io::Result<TraceeStop> {
    const P_PID: libc::c_long = 1;
    const WSTOPPED: libc::c_long = 2;
    const WNOHANG: libc::c_long = 1;
    const WALL: libc::c_long = 0x4000_0000;
    let mut info = [0u64; 16];
    // SAFETY: `info` is a writable 128-byte, 8-aligned buffer, the size of `siginfo_t`; rusage is null.
    let r = unsafe {
        libc::syscall(
            libc::SYS_waitid,
            P_PID,
            pid as libc::c_long,
            info.as_mut_ptr(),
            WSTOPPED | WNOHANG | WALL,
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    // siginfo_t for SIGCHLD: si_pid @16, si_status @24 (the full ptrace exit code: sig | event << 8).
    let bytes: Vec<u8> = info.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let word = |off: usize| i32::from_ne_bytes([bytes[off], bytes[off + 1], bytes[off + 2], bytes[off + 3]]);
    if word(16) == 0 {
        return Ok(TraceeStop::None);
    }
    let status = word(24);
    let (sig, event) = (status & 0xff, status >> 8);
    Ok(match event {
        PTRACE_EVENT_EXIT => TraceeStop::Exit,
        PTRACE_EVENT_STOP if matches!(sig, libc::SIGSTOP | libc::SIGTSTP | libc::SIGTTIN | libc::SIGTTOU) => {
            TraceeStop::GroupStop(sig)
        }
        0 => TraceeStop::Signal(sig),
        _ => TraceeStop::Event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_memory() {
        let me = std::process::id();
        let data = b"hello perf".to_vec();
        let mut buf = [0u8; 10];
        assert_eq!(process_vm_read(me, data.as_ptr() as u64, &mut buf), 10);
        assert_eq!(&buf, b"hello perf");
        assert_eq!(process_vm_read(me, 8, &mut buf), 0);
        assert!(online_cpus().unwrap().contains(&0));
    }
}
