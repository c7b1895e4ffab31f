//! The reference interpreter: the executable specification of RFC 9669 and the kernel's semantics.
