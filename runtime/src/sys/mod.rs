//! Thin wrappers over the kernel's bpf() and perf_event_open system calls.
