//! Process control for live runs: start a command stopped (so probes are attached before it does
//! anything), let it continue, a Ctrl-C flag that ends a live run cleanly instead of killing bpfc, and the
//! calling thread's CPU time (what a live consumer costs).

use std::ffi::CString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A child started by [`spawn_stopped`].
#[derive(Debug)]
pub struct StoppedChild {
    pid: u32,
}

impl StoppedChild {
    /// Its process id.
    pub fn id(&self) -> u32 {
        self.pid
    }

    /// Waits for it to exit; returns the `waitpid` status.
    pub fn wait(&self) -> std::io::Result<i32> {
        let mut status = 0;
        loop {
            // SAFETY: waitpid on our own child with a valid out-pointer.
            let r = unsafe { libc::waitpid(self.pid as libc::pid_t, &mut status, 0) };
            if r >= 0 {
                if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                    return Ok(status);
                }
                continue;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// Finds `program` on `PATH` (or takes it as a path when it contains a `/`).
fn resolve(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(program.into());
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| std::path::Path::new(d).join(program)).find(|p| p.is_file())
}

/// Starts `program args…` stopped: the child stops itself (SIGSTOP) right after `fork`, before `execve`,
/// and this returns once it is stopped. After [`resume`] it execs the program, so probes attached in
/// between see everything the program does (plus the `execve` itself).
pub fn spawn_stopped(program: &str, args: &[String]) -> std::io::Result<StoppedChild> {
    let not_found = || std::io::Error::new(std::io::ErrorKind::NotFound, format!("`{program}` not found"));
    let path = resolve(program).ok_or_else(not_found)?;
    let cstr = |s: &str| CString::new(s).map_err(|_| std::io::Error::other("argument contains NUL"));
    let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| not_found())?;
    let mut c_args = vec![cstr(program)?];
    for a in args {
        c_args.push(cstr(a)?);
    }
    let mut argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    argv.push(std::ptr::null());
    let env: Vec<CString> = std::env::vars_os()
        .filter_map(|(k, v)| CString::new([k.as_encoded_bytes(), b"=", v.as_encoded_bytes()].concat()).ok())
        .collect();
    let mut envp: Vec<*const libc::c_char> = env.iter().map(|e| e.as_ptr()).collect();
    envp.push(std::ptr::null());
    // SAFETY: everything the child uses was prepared above; between fork and execve the child calls only
    // async-signal-safe functions (raise, execve, _exit) and touches no locks or allocator.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; the pointers stay valid in the child's copy of our memory.
        unsafe {
            libc::raise(libc::SIGSTOP);
            libc::execve(c_path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waitpid on the child we just forked; WUNTRACED returns once it has stopped.
    let r = unsafe { libc::waitpid(pid, &mut status, libc::WUNTRACED) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(StoppedChild { pid: pid as u32 })
}

/// Sends SIGCONT to `pid`.
pub fn resume(pid: u32) -> std::io::Result<()> {
    // SAFETY: kill(2) with a pid and a signal number; no memory is involved.
    if unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// CPU time the calling thread has used so far (`clock_gettime(CLOCK_THREAD_CPUTIME_ID)`, ns resolution),
/// for measuring what a live consumer costs per event without counting time it spent waiting in `poll`.
pub fn thread_cpu_time() -> std::time::Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the kernel always knows.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

static CTRL_C: AtomicBool = AtomicBool::new(false);

extern "C" fn on_sigint(_: libc::c_int) {
    CTRL_C.store(true, Ordering::SeqCst);
}

/// A flag that becomes true on Ctrl-C (SIGINT) from now on. Installing the handler is idempotent.
pub fn ctrl_c_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    // SAFETY: installs a handler that only stores to an atomic (async-signal-safe); `sa` is fully
    // initialised before use.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_sigint as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGINT, &sa, std::ptr::null_mut());
    }
    let f = Arc::clone(&flag);
    std::thread::spawn(move || {
        while !f.load(Ordering::Relaxed) {
            if CTRL_C.load(Ordering::Relaxed) {
                f.store(true, Ordering::SeqCst);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    flag
}
