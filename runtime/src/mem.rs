//! The one place where raw memory is touched: region checks, then loads, stores and atomics.
