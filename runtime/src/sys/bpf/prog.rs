//! Programs: `BPF_PROG_LOAD` (with verifier log), `BPF_PROG_TEST_RUN`, `BPF_OBJ_GET_INFO_BY_FD` for
//! programs, `BPF_PROG_GET_FD_BY_ID` and `BPF_ENABLE_STATS`.

use super::attr::{BtfLoadAttr, EnableStatsAttr, GetIdAttr, InfoAttr, ProgLoadAttr, RawProgInfo, TestRunAttr};
use super::*;
use std::ffi::CString;
use std::os::fd::OwnedFd;

/// First verifier log buffer; grown on `ENOSPC` up to [`MAX_LOG_SIZE`].
const INITIAL_LOG_SIZE: usize = 64 * 1024;
/// The kernel refuses log buffers above `UINT_MAX >> 2`.
const MAX_LOG_SIZE: usize = (u32::MAX >> 2) as usize;
/// `libbpf` retries `BPF_PROG_LOAD` on `EAGAIN` (the verifier can be interrupted); so do we.
const EAGAIN_RETRIES: usize = 5;

/// Arguments of [`prog_load`]. Fields not given default to 0 / empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgLoad<'a> {
    /// `enum bpf_prog_type`, e.g. [`BPF_PROG_TYPE_SYSCALL`].
    pub prog_type: u32,
    /// Little-endian bytecode; a multiple of 8 bytes.
    pub insns: &'a [u8],
    /// License string (`"GPL"` unlocks GPL-only helpers).
    pub license: &'a str,
    /// `prog_flags`, e.g. [`BPF_F_SLEEPABLE`].
    pub flags: u32,
    /// `expected_attach_type`.
    pub expected_attach_type: u32,
    /// `attach_btf_id` (tracing programs).
    pub attach_btf_id: u32,
    /// `attach_btf_obj_fd` (module BTF) / `attach_prog_fd`; 0 for vmlinux.
    pub attach_btf_obj_fd: u32,
    /// `kern_version` (ignored by modern kernels except for old kprobe checks).
    pub kern_version: u32,
    /// Verifier log level: 0 (none; on failure the load is repeated at level 1 to get the reason),
    /// [`LOG_LEVEL_BRANCH`], [`LOG_LEVEL_INSN`], [`LOG_LEVEL_STATS`] or a combination.
    pub log_level: u32,
    /// Program name, at most 15 bytes of `[A-Za-z0-9_.]`.
    pub prog_name: &'a str,
    /// The program's BTF (from [`btf_load`]), needed for `func_info`/`line_info`.
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// `struct bpf_func_info` records (`.BTF.ext`), `func_info_rec_size` bytes each.
    pub func_info: &'a [u8],
    /// Size of one func_info record (8 today).
    pub func_info_rec_size: u32,
    /// `struct bpf_line_info` records, `line_info_rec_size` bytes each.
    pub line_info: &'a [u8],
    /// Size of one line_info record (16 today).
    pub line_info_rec_size: u32,
    /// Map fds referred to by index (`lddw` src 5/6, `BPF_PSEUDO_MAP_IDX`).
    pub fd_array: &'a [i32],
}

/// A successfully loaded object (program or BTF) and its log.
#[derive(Debug)]
pub struct LoadedProg {
    /// The new fd.
    pub fd: OwnedFd,
    /// The verifier (or BTF) log (empty at log level 0).
    pub log: String,
}

/// Loads a program; returns its fd, or the errno and the verifier log.
pub fn prog_load(args: &ProgLoad<'_>) -> Result<OwnedFd, LoadError> {
    prog_load_with_log(args).map(|p| p.fd)
}

/// Records of `rec_size` bytes: returns their count, checking the slice holds whole records.
fn records(what: &str, bytes: &[u8], rec_size: u32) -> Result<u32, LoadError> {
    let invalid = |reason: String| LoadError::Invalid { cmd: Cmd::ProgLoad, reason };
    if bytes.is_empty() {
        return Ok(0);
    }
    if rec_size == 0 || !bytes.len().is_multiple_of(rec_size as usize) {
        return Err(invalid(format!("{what}: {} bytes are not whole records of {rec_size} bytes", bytes.len())));
    }
    u32::try_from(bytes.len() / rec_size as usize).map_err(|_| invalid(format!("{what}: too many records")))
}

/// Loads a program and also returns the verifier log of a successful load (useful with
/// [`LOG_LEVEL_STATS`] to read `processed N insns`).
pub fn prog_load_with_log(args: &ProgLoad<'_>) -> Result<LoadedProg, LoadError> {
    let invalid = |reason: String| LoadError::Invalid { cmd: Cmd::ProgLoad, reason };
    if args.insns.is_empty() || !args.insns.len().is_multiple_of(8) {
        return Err(invalid(format!("bytecode length {} is not a non-zero multiple of 8", args.insns.len())));
    }
    let insn_cnt = u32::try_from(args.insns.len() / 8)
        .map_err(|_| invalid(format!("{} instructions is too many", args.insns.len() / 8)))?;
    let license = CString::new(args.license).map_err(|_| invalid("license contains a NUL byte".to_string()))?;
    let prog_name = obj_name(Cmd::ProgLoad, args.prog_name).map_err(|e| invalid(e.to_string()))?;
    check_fd_array_indices(args.insns, args.fd_array.len()).map_err(invalid)?;
    let func_info_cnt = records("func_info", args.func_info, args.func_info_rec_size)?;
    let line_info_cnt = records("line_info", args.line_info, args.line_info_rec_size)?;
    let base = ProgLoadAttr {
        prog_type: args.prog_type,
        insn_cnt,
        insns: args.insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        kern_version: args.kern_version,
        prog_flags: args.flags,
        prog_name,
        expected_attach_type: args.expected_attach_type,
        prog_btf_fd: args.prog_btf_fd.map_or(0, fd_u32),
        func_info_rec_size: if func_info_cnt > 0 { args.func_info_rec_size } else { 0 },
        func_info: ptr_or_null(args.func_info),
        func_info_cnt,
        line_info_rec_size: if line_info_cnt > 0 { args.line_info_rec_size } else { 0 },
        line_info: ptr_or_null(args.line_info),
        line_info_cnt,
        attach_btf_id: args.attach_btf_id,
        attach_btf_obj_fd: args.attach_btf_obj_fd,
        fd_array: if args.fd_array.is_empty() { 0 } else { args.fd_array.as_ptr() as u64 },
        ..ProgLoadAttr::default()
    };
    // SAFETY: every pointer in `base` comes from a slice or CString borrowed for this whole function,
    // with the counts stored beside it: insns (insn_cnt * 8 bytes), license (NUL-terminated),
    // func_info/line_info (cnt * rec_size bytes). The kernel reads fd_array only at the indices named by
    // `lddw` src 5/6, which were checked to lie inside the slice.
    unsafe { load_logged(&base, args.log_level) }
}

/// The kernel reads `fd_array[imm]` for every `lddw` with src 5 or 6 (`BPF_PSEUDO_MAP_IDX[_VALUE]`)
/// without knowing the array's length, so those indices are checked here.
fn check_fd_array_indices(insns: &[u8], len: usize) -> Result<(), String> {
    for (i, slot) in insns.chunks_exact(8).enumerate() {
        if slot[0] == 0x18 && matches!(slot[1] >> 4, 5 | 6) {
            let idx = i32::from_le_bytes([slot[4], slot[5], slot[6], slot[7]]);
            if usize::try_from(idx).map_or(true, |idx| idx >= len) {
                return Err(format!("insn #{i}: map index {idx} is outside fd_array (length {len})"));
            }
        }
    }
    Ok(())
}

/// An attr with a verifier-style log: `BPF_PROG_LOAD` or `BPF_BTF_LOAD`.
trait LogAttr: Copy {
    const CMD: Cmd;
    fn set_log(&mut self, level: u32, size: u32, buf: u64);
    fn log_true_size(&self) -> u32;
}

impl LogAttr for ProgLoadAttr {
    const CMD: Cmd = Cmd::ProgLoad;
    fn set_log(&mut self, level: u32, size: u32, buf: u64) {
        (self.log_level, self.log_size, self.log_buf) = (level, size, buf);
    }
    fn log_true_size(&self) -> u32 {
        self.log_true_size
    }
}

impl LogAttr for BtfLoadAttr {
    const CMD: Cmd = Cmd::BtfLoad;
    fn set_log(&mut self, level: u32, size: u32, buf: u64) {
        (self.btf_log_level, self.btf_log_size, self.btf_log_buf) = (level, size, buf);
    }
    fn log_true_size(&self) -> u32 {
        self.btf_log_true_size
    }
}

/// Loads at `log_level`; when that fails at level 0 without a log, loads again at level 1 to get the
/// reason (keeping the first errno).
///
/// # Safety
/// Every pointer in `base` must be valid for what the kernel reads for `A::CMD` during this call.
unsafe fn load_logged<A: LogAttr>(base: &A, log_level: u32) -> Result<LoadedProg, LoadError> {
    // SAFETY: forwarded from this function's contract.
    match unsafe { load_at_level(base, log_level) } {
        Err(LoadError::Rejected { cmd, errno, log }) if log_level == 0 && log.is_empty() => {
            // SAFETY: as above.
            match unsafe { load_at_level(base, LOG_LEVEL_BRANCH) } {
                Err(LoadError::Rejected { log, .. }) => Err(LoadError::Rejected { cmd, errno, log }),
                Ok(_) | Err(LoadError::Invalid { .. }) => Err(LoadError::Rejected { cmd, errno, log: String::new() }),
            }
        }
        other => other,
    }
}

/// # Safety
/// As [`load_logged`].
unsafe fn load_at_level<A: LogAttr>(base: &A, log_level: u32) -> Result<LoadedProg, LoadError> {
    let mut log_size = if log_level == 0 { 0 } else { INITIAL_LOG_SIZE };
    let mut eagain = 0;
    loop {
        let mut log = vec![0u8; log_size];
        let mut attr = *base;
        if log_size > 0 {
            attr.set_log(log_level, log_size as u32, log.as_mut_ptr() as u64);
        }
        // SAFETY: the pointers in `base` are valid by this function's contract; `log_buf` is
        // `log_size` writable bytes owned by `log`, alive until after the call.
        let result = unsafe { sys_bpf(A::CMD, &mut attr) };
        let text = || {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            String::from_utf8_lossy(&log[..end]).into_owned()
        };
        match result {
            Ok(fd) => return Ok(LoadedProg { fd: owned_fd(fd), log: text() }),
            Err(SysError::Kernel { errno, .. }) if errno.0 == libc::EAGAIN && eagain < EAGAIN_RETRIES => {
                eagain += 1;
            }
            Err(SysError::Kernel { errno, .. })
                if errno == Errno::ENOSPC && log_size > 0 && log_size < MAX_LOG_SIZE =>
            {
                // The log did not fit. Linux >= 6.4 tells us how much it needed; older kernels do not.
                let needed = attr.log_true_size() as usize;
                log_size = if needed > log_size { needed } else { log_size.saturating_mul(4) }.min(MAX_LOG_SIZE);
            }
            Err(SysError::Kernel { cmd, errno }) => return Err(LoadError::Rejected { cmd, errno, log: text() }),
            Err(SysError::Invalid { cmd, reason }) => return Err(LoadError::Invalid { cmd, reason }),
        }
    }
}

/// Loads raw BTF (`.BTF` section bytes: header, types, strings) into the kernel. At `log_level` 0 a
/// rejection is retried at level 1 so the error carries the kernel's reason.
pub fn btf_load(btf: &[u8], log_level: u32) -> Result<LoadedProg, LoadError> {
    let btf_size = u32::try_from(btf.len())
        .map_err(|_| LoadError::Invalid { cmd: Cmd::BtfLoad, reason: format!("{} bytes of BTF", btf.len()) })?;
    let base = BtfLoadAttr { btf: ptr_or_null(btf), btf_size, ..BtfLoadAttr::default() };
    // SAFETY: `btf` points to `btf_size` readable bytes borrowed for this call.
    unsafe { load_logged(&base, log_level) }
}

/// Arguments of [`prog_test_run`]. Empty slices are passed as NULL, as some program types require.
#[derive(Clone, Copy, Debug, Default)]
pub struct TestRun<'a> {
    /// Packet data in (`data_in`).
    pub data_in: &'a [u8],
    /// Size of the buffer for `data_out` (0: none).
    pub data_out_size: u32,
    /// Context in (`ctx_in`). `BPF_PROG_TYPE_SYSCALL` programs write their context back into this
    /// buffer rather than into `ctx_out`; see [`TestRunResult::ctx_in_after`].
    pub ctx_in: &'a [u8],
    /// Size of the buffer for `ctx_out` (0: none).
    pub ctx_out_size: u32,
    /// Repetitions (0 and 1 both run once; syscall programs require 0).
    pub repeat: u32,
    /// `BPF_F_TEST_RUN_ON_CPU`, ...
    pub flags: u32,
    /// CPU to run on with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
}

/// What [`prog_test_run`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The low 32 bits of r0 (the kernel truncates the return value to `u32`).
    pub retval: u32,
    /// Average duration per repetition in ns (0 for program types that do not measure it).
    pub duration_ns: u32,
    /// Packet data out, truncated to the size the kernel reported.
    pub data_out: Vec<u8>,
    /// Context out, truncated to the size the kernel reported.
    pub ctx_out: Vec<u8>,
    /// Our private copy of `ctx_in` after the run: program types that copy their context back into
    /// `ctx_in` (`BPF_PROG_TYPE_SYSCALL`) leave the final context here; for others it equals `ctx_in`.
    pub ctx_in_after: Vec<u8>,
}

/// Runs a loaded program once (or `repeat` times) with `BPF_PROG_TEST_RUN`.
pub fn prog_test_run(prog: BorrowedFd<'_>, args: &TestRun<'_>) -> Result<TestRunResult, SysError> {
    let len32 = |what: &str, n: usize| {
        u32::try_from(n).map_err(|_| SysError::Invalid {
            cmd: Cmd::ProgTestRun,
            reason: format!("{what} of {n} bytes is too long"),
        })
    };
    let mut ctx_in = args.ctx_in.to_vec();
    let mut data_out = vec![0u8; args.data_out_size as usize];
    let mut ctx_out = vec![0u8; args.ctx_out_size as usize];
    let mut attr = TestRunAttr {
        prog_fd: fd_u32(prog),
        data_size_in: len32("data_in", args.data_in.len())?,
        data_size_out: args.data_out_size,
        data_in: ptr_or_null(args.data_in),
        data_out: if data_out.is_empty() { 0 } else { data_out.as_mut_ptr() as u64 },
        repeat: args.repeat,
        ctx_size_in: len32("ctx_in", ctx_in.len())?,
        ctx_size_out: args.ctx_out_size,
        ctx_in: if ctx_in.is_empty() { 0 } else { ctx_in.as_mut_ptr() as u64 },
        ctx_out: if ctx_out.is_empty() { 0 } else { ctx_out.as_mut_ptr() as u64 },
        flags: args.flags,
        cpu: args.cpu,
        ..TestRunAttr::default()
    };
    // SAFETY: data_in is `data_size_in` readable bytes borrowed from the caller; ctx_in is our own
    // `ctx_size_in`-byte buffer, which the kernel may also write back into (syscall programs);
    // data_out/ctx_out are `data_size_out`/`ctx_size_out` writable bytes we own. All live until return.
    unsafe { sys_bpf(Cmd::ProgTestRun, &mut attr) }?;
    data_out.truncate(attr.data_size_out as usize);
    ctx_out.truncate(attr.ctx_size_out as usize);
    Ok(TestRunResult { retval: attr.retval, duration_ns: attr.duration, data_out, ctx_out, ctx_in_after: ctx_in })
}

/// What `BPF_OBJ_GET_INFO_BY_FD` reports about a program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    /// Kernel-wide program id.
    pub id: u32,
    /// The program tag (a hash of the original instructions).
    pub tag: [u8; 8],
    /// Name given at load time.
    pub name: String,
    /// Bytes of JIT-compiled code (0 when not JIT-compiled).
    pub jited_len: u32,
    /// The instructions after the verifier's rewrites (empty if the kernel hides them).
    pub xlated_insns: Vec<u8>,
    /// Ids of the maps the program uses.
    pub map_ids: Vec<u32>,
    /// Load time, ns since boot.
    pub load_time: u64,
    /// Uid of the loader.
    pub created_by_uid: u32,
    /// Whether the license is GPL-compatible.
    pub gpl_compatible: bool,
    /// Total run time in ns while stats were enabled.
    pub run_time_ns: u64,
    /// Runs while stats were enabled.
    pub run_cnt: u64,
    /// Runs skipped because of recursion.
    pub recursion_misses: u64,
    /// Instructions the verifier processed.
    pub verified_insns: u32,
    /// BTF object id of the program's own BTF.
    pub btf_id: u32,
    /// Attach target's BTF id.
    pub attach_btf_id: u32,
    /// Attach target's BTF object id.
    pub attach_btf_obj_id: u32,
}

/// Reads a program's info, including its translated instructions and map ids.
pub fn prog_info(prog: BorrowedFd<'_>) -> Result<ProgInfo, SysError> {
    // First call: the kernel fills in the lengths; second call: it copies the arrays into our buffers.
    let mut first = RawProgInfo::default();
    get_info(prog, &mut first)?;
    let mut xlated = vec![0u8; first.xlated_prog_len as usize];
    let mut map_ids = vec![0u32; first.nr_map_ids as usize];
    let mut second = RawProgInfo {
        xlated_prog_len: xlated.len() as u32,
        xlated_prog_insns: if xlated.is_empty() { 0 } else { xlated.as_mut_ptr() as u64 },
        nr_map_ids: map_ids.len() as u32,
        map_ids: if map_ids.is_empty() { 0 } else { map_ids.as_mut_ptr() as u64 },
        ..RawProgInfo::default()
    };
    get_info(prog, &mut second)?;
    // The kernel reports the full lengths again; it copied at most what we offered.
    xlated.truncate((second.xlated_prog_len as usize).min(xlated.len()));
    map_ids.truncate((second.nr_map_ids as usize).min(map_ids.len()));
    Ok(ProgInfo {
        prog_type: second.prog_type,
        id: second.id,
        tag: second.tag,
        name: c_name(&second.name),
        jited_len: second.jited_prog_len,
        xlated_insns: xlated,
        map_ids,
        load_time: second.load_time,
        created_by_uid: second.created_by_uid,
        gpl_compatible: second.gpl_compatible & 1 != 0,
        run_time_ns: second.run_time_ns,
        run_cnt: second.run_cnt,
        recursion_misses: second.recursion_misses,
        verified_insns: second.verified_insns,
        btf_id: second.btf_id,
        attach_btf_id: second.attach_btf_id,
        attach_btf_obj_id: second.attach_btf_obj_id,
    })
}

/// `BPF_OBJ_GET_INFO_BY_FD` into a prog or map info struct.
pub(super) fn get_info<I: Copy>(fd: BorrowedFd<'_>, info: &mut I) -> Result<(), SysError> {
    let mut attr =
        InfoAttr { bpf_fd: fd_u32(fd), info_len: std::mem::size_of::<I>() as u32, info: info as *mut I as u64 };
    // SAFETY: `info` is an exclusively borrowed `#[repr(C)]` info struct of `info_len` bytes; the kernel
    // writes at most `info_len` bytes into it. Any array pointers inside it were set by our callers to
    // buffers of the lengths stored next to them, alive for this call.
    unsafe { sys_bpf(Cmd::ObjGetInfoByFd, &mut attr) }?;
    Ok(())
}

/// Opens a new fd for the program with this id.
pub fn prog_get_fd_by_id(id: u32) -> Result<OwnedFd, SysError> {
    let mut attr = GetIdAttr { id, ..GetIdAttr::default() };
    // SAFETY: the attr holds no pointers.
    let fd = unsafe { sys_bpf(Cmd::ProgGetFdById, &mut attr) }?;
    Ok(owned_fd(fd))
}

/// Turns on kernel-wide run-time statistics (`run_time_ns`, `run_cnt` in [`ProgInfo`]) for as long as
/// the returned fd stays open.
pub fn enable_stats(stats_type: u32) -> Result<OwnedFd, SysError> {
    let mut attr = EnableStatsAttr { stats_type };
    // SAFETY: the attr holds no pointers.
    let fd = unsafe { sys_bpf(Cmd::EnableStats, &mut attr) }?;
    Ok(owned_fd(fd))
}
