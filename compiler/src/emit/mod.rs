//! Emitting native code: in-process JIT and relocatable objects.
