//! Reading clang-built BPF ELF objects.
