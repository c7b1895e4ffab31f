//! The bpf_conformance data format and runner.
