//! BPF helper functions: one table, declared once, shared by the interpreter, native code and the
//! verifier. [`HelperTable`] is the dense id → function table that `env.helpers` points to.

pub mod conformance;
mod table;

pub use table::HelperTable;
pub mod spec;
