//! Running programs: builds the per-invocation Env and stack, runs interpreted or native code.
