//! The verifier: abstract interpretation that proves programs safe.
