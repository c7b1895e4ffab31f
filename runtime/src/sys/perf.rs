//! Live-event system calls: `perf_event_open(2)` with its mmap'd ring buffers and ioctls, and
//! `process_vm_readv(2)` for reading a traced process's memory.

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
