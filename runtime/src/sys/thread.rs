//! The calling thread as the kernel sees it: its task identity (what the "current task" helpers answer
//! for a program test-run from it) and pinning it to one CPU, so `BPF_PROG_TEST_RUN` runs the program
//! on that CPU *in this thread's context* — with `BPF_F_TEST_RUN_ON_CPU` for another CPU the kernel
//! would run it from an IPI, where `current` is whatever task that CPU was running.

use crate::abi::EventMeta;
use crate::events::comm_bytes;

/// This thread's task: tgid, tid, real uid/gid and comm (CPU and time are left 0).
pub fn current_task() -> EventMeta {
    // SAFETY: getpid, gettid, getuid and getgid take no arguments and cannot fail.
    let (pid, tid, uid, gid) =
        unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid), libc::getuid(), libc::getgid()) };
    let comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap_or_default();
    EventMeta {
        pid: pid as u32,
        tid: tid as u32,
        uid,
        gid,
        comm: comm_bytes(comm.trim_end_matches('\n')).unwrap_or_default(),
        ..EventMeta::default()
    }
}

/// The calling thread pinned to one CPU; dropping it restores the affinity it had before.
pub struct CpuPin {
    saved: libc::cpu_set_t,
}

impl std::fmt::Debug for CpuPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpuPin")
    }
}

/// Pins the calling thread to `cpu` (fails when the CPU does not exist, is offline or is not in this
/// thread's allowed set).
pub fn pin_to_cpu(cpu: u32) -> std::io::Result<CpuPin> {
    if cpu as usize >= libc::CPU_SETSIZE as usize {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: cpu_set_t is plain data; an all-zero set is valid.
    let mut saved: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `saved` is a writable cpu_set_t of the size passed; pid 0 is the calling thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: cpu_set_t is plain data; an all-zero set is valid.
    let mut one: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: CPU_SET writes bit `cpu` (checked < CPU_SETSIZE above) of our own set.
    unsafe { libc::CPU_SET(cpu as usize, &mut one) };
    // SAFETY: `one` is a readable cpu_set_t of the size passed.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &one) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(CpuPin { saved })
}

impl Drop for CpuPin {
    fn drop(&mut self) {
        // SAFETY: `saved` is the readable cpu_set_t sched_getaffinity filled. A failure leaves the thread
        // pinned, which is harmless.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.saved) };
    }
}

/// The CPU the calling thread is running on.
pub fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no arguments.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_pinning() {
        let me = current_task();
        assert_eq!(me.pid, std::process::id());
        assert_ne!(me.tid, 0);
        assert_ne!(me.comm, [0; 16]);
        let pin = pin_to_cpu(0).expect("CPU 0 exists");
        assert_eq!(current_cpu(), Some(0));
        drop(pin);
        assert!(pin_to_cpu(100_000).is_err());
    }
}
