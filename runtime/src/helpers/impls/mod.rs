//! Implementations of the Linux helpers, as safe bodies over [`HelperCtx`] turned into raw
//! [`crate::abi::HelperFn`]s by `declare_helper!`. They share the kernel's conventions: errors are
//! negative errnos in r0, output buffers are zeroed when a read faults, and the "current task" is the
//! event the program runs on (`env.event`), never this process.
//!
//! A helper stops the program with a trap only where the kernel's verifier would have made the situation
//! impossible: an argument that is not a map handle, a pointer the program may not touch, a missing host
//! state, or a callback that is not a function of the program.

mod maps;
mod output;
mod probe;
mod strings;
mod task;

use std::sync::Arc;

use super::HelperTable;
use super::host::HostState;
use super::spec;
use crate::abi::{HelperFn, TrapCode};
use crate::exec::HelperCtx;
use crate::maps::Map;
use crate::mem::Fault;

/// `-errno` as a helper return value.
pub(crate) fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// The host state; traps (`HelperFault`, detail = helper id) when the machine was bound without one.
pub(crate) fn host<'e>(cx: &mut HelperCtx<'e>, id: u32) -> Option<&'e HostState> {
    let h = cx.host_state();
    if h.is_none() {
        cx.trap(TrapCode::HelperFault, id as u64);
    }
    h
}

/// The map behind a handle address; traps (`HelperFault`, detail = the address) when it is not one.
pub(crate) fn map_arg(cx: &mut HelperCtx<'_>, host: &HostState, handle: u64) -> Option<Arc<Map>> {
    let m = host.maps().by_handle(handle);
    if m.is_none() {
        cx.trap(TrapCode::HelperFault, handle);
    }
    m
}

/// Reads program memory; a fault stops the program. The range is checked before anything is allocated,
/// so a program-controlled size cannot make the runtime allocate more than the program may access.
pub(crate) fn read(cx: &mut HelperCtx<'_>, addr: u64, len: usize) -> Option<Vec<u8>> {
    if !cx.check(addr, len as u64, false) {
        cx.fault(Fault::OutOfBounds, addr, len, false);
        return None;
    }
    match cx.read(addr, len) {
        Ok(v) => Some(v),
        Err(f) => {
            cx.fault(f, addr, len, false);
            None
        }
    }
}

/// Whether `len` bytes at `addr` may be written; when not, the program stops with the fault (callers
/// check before building a buffer of a program-controlled size).
pub(crate) fn writable(cx: &mut HelperCtx<'_>, addr: u64, len: usize) -> bool {
    let ok = cx.check(addr, len as u64, true);
    if !ok {
        cx.fault(Fault::OutOfBounds, addr, len, true);
    }
    ok
}

/// Writes program memory; a fault stops the program.
pub(crate) fn write(cx: &mut HelperCtx<'_>, addr: u64, bytes: &[u8]) -> Option<()> {
    match cx.write(addr, bytes) {
        Ok(()) => Some(()),
        Err(f) => {
            cx.fault(f, addr, bytes.len(), true);
            None
        }
    }
}

/// The CPU slot of the running program: the event's CPU, folded into the runtime's CPU count.
pub(crate) fn cpu_slot(cx: &HelperCtx<'_>, host: &HostState) -> u32 {
    cx.event().cpu % host.maps().ncpus()
}

/// Every implemented helper by kernel name (ids come from [`spec`], the one signature table).
fn implementations() -> Vec<(&'static str, HelperFn)> {
    vec![
        ("map_lookup_elem", maps::map_lookup_elem),
        ("map_update_elem", maps::map_update_elem),
        ("map_delete_elem", maps::map_delete_elem),
        ("map_push_elem", maps::map_push_elem),
        ("map_pop_elem", maps::map_pop_elem),
        ("map_peek_elem", maps::map_peek_elem),
        ("tail_call", maps::tail_call),
        ("for_each_map_elem", maps::for_each_map_elem),
        ("loop", maps::bpf_loop),
        ("spin_lock", maps::spin_lock),
        ("spin_unlock", maps::spin_unlock),
        ("probe_read", probe::probe_read),
        ("probe_read_str", probe::probe_read_str),
        ("probe_read_user", probe::probe_read_user),
        ("probe_read_kernel", probe::probe_read_kernel),
        ("probe_read_user_str", probe::probe_read_user_str),
        ("probe_read_kernel_str", probe::probe_read_kernel_str),
        ("ktime_get_ns", task::ktime_get_ns),
        ("ktime_get_boot_ns", task::ktime_get_boot_ns),
        ("ktime_get_coarse_ns", task::ktime_get_coarse_ns),
        ("jiffies64", task::jiffies64),
        ("get_prandom_u32", task::get_prandom_u32),
        ("get_smp_processor_id", task::get_smp_processor_id),
        ("get_numa_node_id", task::get_numa_node_id),
        ("get_current_pid_tgid", task::get_current_pid_tgid),
        ("get_current_uid_gid", task::get_current_uid_gid),
        ("get_current_comm", task::get_current_comm),
        ("get_current_task", task::get_current_task),
        ("get_func_ip", task::get_func_ip),
        ("get_attach_cookie", task::get_attach_cookie),
        ("get_stack", task::get_stack),
        ("get_stackid", task::get_stackid),
        ("trace_printk", output::trace_printk),
        ("trace_vprintk", output::trace_vprintk),
        ("snprintf", output::snprintf),
        ("perf_event_output", output::perf_event_output),
        ("ringbuf_output", output::ringbuf_output),
        ("ringbuf_reserve", output::ringbuf_reserve),
        ("ringbuf_submit", output::ringbuf_submit),
        ("ringbuf_discard", output::ringbuf_discard),
        ("ringbuf_query", output::ringbuf_query),
        ("strncmp", strings::strncmp),
        ("strtol", strings::strtol),
        ("strtoul", strings::strtoul),
    ]
}

/// The full Linux helper table: every helper of [`spec::HELPERS`] bound at its kernel id. Programs bound
/// with it need a [`HostState`] in `Machine::host`.
pub fn linux_helpers() -> HelperTable {
    let mut t = HelperTable::empty();
    for (name, f) in implementations() {
        let id = spec::by_name(name).unwrap_or_else(|| panic!("helper `{name}` is missing from helpers::spec")).id;
        t.set(id, f);
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The implementation list and the signature table name the same helpers.
    #[test]
    fn every_spec_helper_is_implemented() {
        let t = linux_helpers();
        for h in spec::HELPERS {
            assert!(t.get(h.id).is_some(), "helper {} ({}) has no implementation", h.name, h.id);
        }
        assert_eq!(implementations().len(), spec::HELPERS.len());
    }
}
