//! The helper set of the bpf_conformance suite, modelled on uBPF's test plugin: the only helper the
//! suite calls is id 5, uBPF's "unwind" (`call_unwind_fail`, and `callx` through a register holding 5).

use super::HelperTable;
use crate::declare_helper;
use crate::exec::HelperCtx;

/// Helper id of [`unwind`].
pub const UNWIND_ID: u32 = 5;

/// uBPF's unwind helper: returns r1; when r1 is 0 the whole program stops at once with r0 = 0.
fn unwind_body(cx: &mut HelperCtx<'_>, r1: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    if r1 == 0 {
        cx.stop_with(0);
    }
    r1
}

declare_helper!(
    /// The raw [`crate::abi::HelperFn`] of uBPF's "unwind" helper (id 5).
    pub unwind => unwind_body
);

/// The helper table the conformance suite runs with.
pub fn conformance_helpers() -> HelperTable {
    let mut t = HelperTable::empty();
    t.set(UNWIND_ID, unwind);
    t
}
