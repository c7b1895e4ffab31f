//! Thin wrappers over the kernel's system calls that bpfc uses as an oracle and for live events:
//! [`bpf`] (`bpf(2)`: programs, maps, object info). Everything unsafe about talking to the kernel —
//! `#[repr(C)]` argument layouts, raw pointers into our buffers, fresh fds — stays in this module.
pub mod bpf;
pub mod perf;
pub mod process;
pub mod thread;
