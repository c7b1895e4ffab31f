//! BPF helper functions: one table, declared once, shared by the interpreter, native code and the
//! verifier. [`spec`] holds every helper's id and signature; [`linux_helpers`] binds their
//! implementations (safe bodies over [`crate::exec::HelperCtx`]) into the dense [`HelperTable`] that
//! `env.helpers` points to; [`HostState`] is the runtime state behind `env.host` that they work on.

pub mod conformance;
pub mod host;
mod impls;
pub mod printf;
pub mod spec;
mod table;

pub use host::{CallbackRunner, HostState, MemBlob, Stacks, TraceLine};
pub use impls::linux_helpers;
pub use table::HelperTable;
