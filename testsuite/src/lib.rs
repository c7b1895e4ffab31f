//! Shared helpers of the bpfc testsuite.
#![forbid(unsafe_code)]

pub mod data;
pub mod examples;
pub mod kernel;
pub mod maprig;
pub mod random;
pub mod shared;
pub mod verifier_corpus;
