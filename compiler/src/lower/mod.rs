//! Lifting BPF instructions to Cranelift IR.
