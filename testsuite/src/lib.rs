//! Shared helpers of the bpfc testsuite.
#![forbid(unsafe_code)]
pub mod verifier_corpus;
