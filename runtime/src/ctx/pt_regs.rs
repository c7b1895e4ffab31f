//! `struct pt_regs` layouts of the architectures bpfc targets, and where the calling convention puts
//! function arguments and the return value (the `PT_REGS_PARMn` / `PT_REGS_RC` macros of libbpf).
//!
//! Offsets are the kernel's: x86_64 `arch/x86/include/asm/ptrace.h` (21 × u64, r15 first), aarch64
//! `struct user_pt_regs` (x0..x30, sp, pc, pstate) inside the kernel's larger `struct pt_regs`, riscv64
//! `struct user_regs_struct` (pc, ra, sp, ..., t6) inside its `struct pt_regs`. The verifier allows reads
//! anywhere in the kernel struct (its `sizeof(struct pt_regs)`), so the runtime allocates that size.

/// A target architecture whose `pt_regs` bpfc knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    /// x86_64.
    X86_64,
    /// aarch64 (arm64).
    Aarch64,
    /// riscv64.
    Riscv64,
}

impl Arch {
    /// The architecture bpfc runs on.
    pub fn host() -> Arch {
        if cfg!(target_arch = "aarch64") {
            Arch::Aarch64
        } else if cfg!(target_arch = "riscv64") {
            Arch::Riscv64
        } else {
            Arch::X86_64
        }
    }
}

const X86_64: [&str; 21] = [
    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax", "ip",
    "cs", "flags", "sp", "ss",
];

const RISCV64: [&str; 32] = [
    "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2",
    "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

/// `sizeof(struct pt_regs)` in the kernel of `arch`.
pub fn kernel_size(arch: Arch) -> u32 {
    match arch {
        // 21 registers.
        Arch::X86_64 => 21 * 8,
        // user_pt_regs (34 × u64) + orig_x0, syscallno, orig_addr_limit/unused2, pmr, stackframe[2],
        // lockdep_hardirqs, exit_rcu: 42 × u64.
        Arch::Aarch64 => 42 * 8,
        // user_regs_struct (32 × u64) + status, badaddr, cause, orig_a0.
        Arch::Riscv64 => 36 * 8,
    }
}

/// Offset of register `name` (`"di"`, `"x0"`, `"a0"`, `"sp"`, `"pc"`, ...) in `arch`'s `pt_regs`.
pub fn offset_of(arch: Arch, name: &str) -> Option<u32> {
    let idx = match arch {
        Arch::X86_64 => X86_64.iter().position(|&r| r == name)?,
        Arch::Aarch64 => match name {
            "sp" => 31,
            "pc" => 32,
            "pstate" => 33,
            _ => {
                let n: usize = name.strip_prefix('x')?.parse().ok()?;
                if n > 30 {
                    return None;
                }
                n
            }
        },
        Arch::Riscv64 => RISCV64.iter().position(|&r| r == name)?,
    };
    Some(idx as u32 * 8)
}

/// The register holding argument `n` (1-based, up to 6 on x86_64 and 8 elsewhere) at function entry.
pub fn arg_register(arch: Arch, n: usize) -> Option<&'static str> {
    let regs: &[&'static str] = match arch {
        Arch::X86_64 => &["di", "si", "dx", "cx", "r8", "r9"],
        Arch::Aarch64 => &["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7"],
        Arch::Riscv64 => &["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"],
    };
    regs.get(n.checked_sub(1)?).copied()
}

/// The register holding the return value at function exit.
pub fn return_register(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "ax",
        Arch::Aarch64 => "x0",
        Arch::Riscv64 => "a0",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_match_kernel_headers() {
        // arch/x86/include/asm/ptrace.h: di at 112, si 104, ax 80, ip 128, sp 152.
        assert_eq!(offset_of(Arch::X86_64, "di"), Some(112));
        assert_eq!(offset_of(Arch::X86_64, "si"), Some(104));
        assert_eq!(offset_of(Arch::X86_64, "ax"), Some(80));
        assert_eq!(offset_of(Arch::X86_64, "ip"), Some(128));
        assert_eq!(offset_of(Arch::X86_64, "sp"), Some(152));
        assert_eq!(offset_of(Arch::X86_64, "r15"), Some(0));
        assert_eq!(offset_of(Arch::Aarch64, "x0"), Some(0));
        assert_eq!(offset_of(Arch::Aarch64, "sp"), Some(248));
        assert_eq!(offset_of(Arch::Aarch64, "pc"), Some(256));
        assert_eq!(offset_of(Arch::Riscv64, "a0"), Some(80));
        assert_eq!(offset_of(Arch::Riscv64, "pc"), Some(0));
        assert_eq!(offset_of(Arch::X86_64, "x0"), None);
        assert_eq!(arg_register(Arch::X86_64, 1), Some("di"));
        assert_eq!(arg_register(Arch::X86_64, 7), None);
    }
}
