//! The `bpfc` command line: argument parsing and printing only; all logic lives in the libraries.
#![forbid(unsafe_code)]

fn main() {}
