//! BPF maps with the kernel's semantics.
