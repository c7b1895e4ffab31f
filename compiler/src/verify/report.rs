//! Failures inside the engine and their conversion into a [`Rejection`](super::Rejection): the engine
//! returns a [`Fail`] (our words plus the kernel's), and the path walker adds where and in what state.

/// A failed check: the explanation for a C programmer and the kernel's message for the same error.
#[derive(Clone, Debug)]
pub struct Fail {
    /// Our explanation.
    pub msg: String,
    /// The kernel's wording.
    pub kernel: Option<String>,
}

/// Result of a check.
pub type Res<T> = Result<T, Fail>;

/// A failure with both wordings.
pub fn fail<T>(msg: impl Into<String>, kernel: impl Into<String>) -> Res<T> {
    Err(Fail { msg: msg.into(), kernel: Some(kernel.into()) })
}

/// The failure for reading a register that was never written.
pub fn not_init<T>(r: usize) -> Res<T> {
    fail(format!("r{r} is read before anything was written to it"), format!("R{r} !read_ok"))
}
