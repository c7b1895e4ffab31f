//! One test per semantic rule, each with an expectation computed by hand from RFC 9669 / the kernel
//! (never by running the code under test twice).

use super::*;
use crate::abi::{Region, TrapCode, unsupported};
use crate::declare_helper;
use crate::exec::{HelperCtx, Machine, Outcome, run_interp};
use crate::helpers::{HelperTable, conformance::conformance_helpers};
use crate::isa::{Located, assemble, decode};

fn code(asm: &str) -> Code {
    decode(&assemble(asm).unwrap_or_else(|e| panic!("{e}\n{asm}"))).unwrap_or_else(|e| panic!("{e}\n{asm}"))
}

fn run_on(m: &Machine, asm: &str, ctx: &mut [u8]) -> Outcome {
    run_interp(m, &code(asm), ctx)
}

fn run(asm: &str) -> Outcome {
    let h = conformance_helpers();
    run_on(&Machine::new(&h), asm, &mut [])
}

#[track_caller]
fn r0(asm: &str) -> u64 {
    match run(asm) {
        Outcome::Exit(v) => v,
        o => panic!("expected an exit, got {o:?}\n{asm}"),
    }
}

#[track_caller]
fn trap_of(o: Outcome) -> TrapInfo {
    match o {
        Outcome::Trap(t) => t,
        o => panic!("expected a trap, got {o:?}"),
    }
}

#[track_caller]
fn assert_trap(o: Outcome, code: TrapCode, pc: u32) -> TrapInfo {
    let t = trap_of(o);
    assert_eq!((TrapCode::from_u32(t.code), t.pc), (Some(code), pc), "{t:?}");
    t
}

const BIG: &str = "lddw %r0, 0x123456789\n";

#[test]
fn division_by_zero() {
    assert_eq!(r0(&format!("{BIG}mov %r1, 0\ndiv %r0, %r1\nexit")), 0);
    assert_eq!(r0(&format!("{BIG}div %r0, 0\nexit")), 0);
    assert_eq!(r0(&format!("{BIG}mov %r1, 0\nmod %r0, %r1\nexit")), 0x1_2345_6789, "mod keeps dst");
    assert_eq!(r0(&format!("{BIG}mov %r1, 0\ndiv32 %r0, %r1\nexit")), 0);
    assert_eq!(r0(&format!("{BIG}mov %r1, 0\nmod32 %r0, %r1\nexit")), 0x2345_6789, "mod32 keeps the low half");
    assert_eq!(r0(&format!("{BIG}mov %r1, 0\nsdiv %r0, %r1\nexit")), 0);
    assert_eq!(r0(&format!("{BIG}mov %r1, 0\nsmod %r0, %r1\nexit")), 0x1_2345_6789);
    assert_eq!(r0(&format!("{BIG}smod32 %r0, 0\nexit")), 0x2345_6789);
    // A 32-bit divisor whose low half is zero divides by zero.
    assert_eq!(r0(&format!("{BIG}lddw %r1, 0x100000000\ndiv32 %r0, %r1\nexit")), 0);
}

#[test]
fn signed_division_overflow_and_rounding() {
    let min64 = "lddw %r0, 0x8000000000000000\n";
    assert_eq!(r0(&format!("{min64}sdiv %r0, -1\nexit")), 0x8000_0000_0000_0000);
    assert_eq!(r0(&format!("{min64}smod %r0, -1\nexit")), 0);
    assert_eq!(r0("mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit"), 0x8000_0000);
    assert_eq!(r0("mov32 %r0, 0x80000000\nsmod32 %r0, -1\nexit"), 0);
    assert_eq!(r0("mov %r0, -7\nsdiv %r0, 2\nexit"), (-3i64) as u64, "truncates toward zero");
    assert_eq!(r0("mov %r0, -7\nsmod %r0, 2\nexit"), (-1i64) as u64, "sign follows the dividend");
    assert_eq!(r0("mov %r0, 7\nsmod %r0, -2\nexit"), 1);
    assert_eq!(r0("mov32 %r0, -7\nsdiv32 %r0, 2\nexit"), 0xffff_fffd);
    // Unsigned division sees the sign-extended immediate: 10 / 0xffff_ffff_ffff_fff6 = 0.
    assert_eq!(r0("mov %r0, 10\ndiv %r0, -10\nexit"), 0);
    assert_eq!(r0(&format!("{min64}neg %r0\nexit")), 0x8000_0000_0000_0000);
    assert_eq!(r0("mov32 %r0, 0x80000000\nneg32 %r0\nexit"), 0x8000_0000);
}

#[test]
fn shifts_are_masked() {
    assert_eq!(r0("mov %r0, 1\nlsh %r0, 68\nexit"), 16);
    assert_eq!(r0("mov %r0, 1\nlsh %r0, -60\nexit"), 16);
    assert_eq!(r0("mov %r0, 1\nmov %r1, 65\nlsh %r0, %r1\nexit"), 2);
    assert_eq!(r0("mov %r0, 1\nlsh32 %r0, 33\nexit"), 2);
    assert_eq!(r0("mov %r0, 1\nmov %r1, 32\nlsh32 %r0, %r1\nexit"), 1);
    assert_eq!(r0("mov %r0, -1\nrsh %r0, 124\nexit"), 0xf);
    assert_eq!(r0("mov %r0, -1\nrsh32 %r0, 60\nexit"), 0xf);
    assert_eq!(r0("lddw %r0, 0x8000000000000000\narsh %r0, 127\nexit"), u64::MAX);
    assert_eq!(r0("mov32 %r0, 0x80000000\narsh32 %r0, 31\nexit"), 0xffff_ffff, "arsh32 zero-extends");
}

#[test]
fn thirty_two_bit_results_are_zero_extended() {
    assert_eq!(r0("mov %r0, -1\nadd32 %r0, 1\nexit"), 0);
    assert_eq!(r0("mov32 %r0, -1\nexit"), 0xffff_ffff);
    assert_eq!(r0("lddw %r0, 0x100000005\nmov32 %r0, %r0\nexit"), 5);
    assert_eq!(r0("mov %r0, -1\nmul32 %r0, 3\nexit"), 0xffff_fffd);
    assert_eq!(r0("mov %r0, -1\nxor32 %r0, 0\nexit"), 0xffff_ffff);
    // ALU64 immediates are sign-extended.
    assert_eq!(r0("mov %r0, 0x80000000\nexit"), 0xffff_ffff_8000_0000);
    assert_eq!(r0("mov %r0, 0\nor %r0, -2\nexit"), 0xffff_ffff_ffff_fffe);
}

#[test]
fn movsx_sign_extends() {
    assert_eq!(r0("mov %r1, 0x180\nmovsx864 %r0, %r1\nexit"), 0xffff_ffff_ffff_ff80);
    assert_eq!(r0("mov %r1, 0x180\nmovsx832 %r0, %r1\nexit"), 0xffff_ff80);
    assert_eq!(r0("mov %r1, 0x18000\nmovsx1632 %r0, %r1\nexit"), 0xffff_8000);
    assert_eq!(r0("mov %r1, 0x18000\nmovsx1664 %r0, %r1\nexit"), 0xffff_ffff_ffff_8000);
    assert_eq!(r0("mov32 %r1, 0x80000000\nmovsx3264 %r0, %r1\nexit"), 0xffff_ffff_8000_0000);
    assert_eq!(r0("mov %r1, 0x7f\nmovsx864 %r0, %r1\nexit"), 0x7f);
}

#[test]
fn byte_order() {
    let v = "lddw %r0, 0x0102030405060708\n";
    assert_eq!(r0(&format!("{v}be16 %r0\nexit")), 0x0807);
    assert_eq!(r0(&format!("{v}be32 %r0\nexit")), 0x0807_0605);
    assert_eq!(r0(&format!("{v}be64 %r0\nexit")), 0x0807_0605_0403_0201);
    assert_eq!(r0(&format!("{v}le16 %r0\nexit")), 0x0708);
    assert_eq!(r0(&format!("{v}le32 %r0\nexit")), 0x0506_0708);
    assert_eq!(r0(&format!("{v}le64 %r0\nexit")), 0x0102_0304_0506_0708);
    assert_eq!(r0(&format!("{v}bswap16 %r0\nexit")), 0x0807);
    assert_eq!(r0(&format!("{v}bswap32 %r0\nexit")), 0x0807_0605);
    assert_eq!(r0(&format!("{v}bswap64 %r0\nexit")), 0x0807_0605_0403_0201);
}

#[test]
fn loads_and_stores() {
    assert_eq!(r0("stdw [%r10-8], -1\nldxdw %r0, [%r10-8]\nexit"), u64::MAX, "st imm is sign-extended");
    assert_eq!(r0("stw [%r10-8], -1\nldxdw %r0, [%r10-8]\nexit"), 0xffff_ffff);
    assert_eq!(r0("stb [%r10-1], 0x80\nldxsb %r0, [%r10-1]\nexit"), 0xffff_ffff_ffff_ff80);
    assert_eq!(r0("sth [%r10-2], 0x8001\nldxsh %r0, [%r10-2]\nexit"), 0xffff_ffff_ffff_8001);
    assert_eq!(r0("stw [%r10-4], 0x80000000\nldxsw %r0, [%r10-4]\nexit"), 0xffff_ffff_8000_0000);
    assert_eq!(r0("stw [%r10-4], 0x80000000\nldxw %r0, [%r10-4]\nexit"), 0x8000_0000);
    // Unaligned accesses are allowed; memory is little-endian on this host.
    assert_eq!(r0("lddw %r1, 0x1122334455667788\nstxdw [%r10-11], %r1\nldxh %r0, [%r10-10]\nexit"), 0x6677);
    assert_eq!(r0("ldxdw %r0, [%r10-512]\nexit"), 0, "the stack starts zeroed");
}

/// Puts `init` at r10-8 and runs `op` with r1 = `src`; returns (memory, r1, r0).
fn atomic(init: u64, src: u64, op: &str) -> (u64, u64, u64) {
    let asm = format!(
        "lddw %r2, {init:#x}\nstxdw [%r10-8], %r2\nlddw %r1, {src:#x}\nlddw %r0, 0xdead00000001\n{op}\n\
         ldxdw %r3, [%r10-8]\nstxdw [%r10-16], %r0\nmov %r0, %r3\nexit"
    );
    let mem = r0(&asm);
    let asm_r1 = asm.replace("mov %r0, %r3\nexit", "mov %r0, %r1\nexit");
    let asm_r0 = asm.replace("mov %r0, %r3\nexit", "ldxdw %r0, [%r10-16]\nexit");
    (mem, r0(&asm_r1), r0(&asm_r0))
}

#[test]
fn atomics_64() {
    assert_eq!(atomic(10, 5, "lock add [%r10-8], %r1"), (15, 5, 0xdead_0000_0001));
    assert_eq!(atomic(10, 5, "lock fetch add [%r10-8], %r1"), (15, 10, 0xdead_0000_0001));
    assert_eq!(atomic(0b1100, 0b1010, "lock or [%r10-8], %r1"), (0b1110, 0b1010, 0xdead_0000_0001));
    assert_eq!(atomic(0b1100, 0b1010, "lock fetch or [%r10-8], %r1"), (0b1110, 0b1100, 0xdead_0000_0001));
    assert_eq!(atomic(0b1100, 0b1010, "lock and [%r10-8], %r1"), (0b1000, 0b1010, 0xdead_0000_0001));
    assert_eq!(atomic(0b1100, 0b1010, "lock fetch and [%r10-8], %r1"), (0b1000, 0b1100, 0xdead_0000_0001));
    assert_eq!(atomic(0b1100, 0b1010, "lock xor [%r10-8], %r1"), (0b0110, 0b1010, 0xdead_0000_0001));
    assert_eq!(atomic(0b1100, 0b1010, "lock fetch xor [%r10-8], %r1"), (0b0110, 0b1100, 0xdead_0000_0001));
    assert_eq!(atomic(7, 9, "lock xchg [%r10-8], %r1"), (9, 7, 0xdead_0000_0001));
    // cmpxchg compares r0 (0xdead00000001): a match stores src; r0 always gets the old value.
    assert_eq!(atomic(0xdead_0000_0001, 9, "lock cmpxchg [%r10-8], %r1"), (9, 9, 0xdead_0000_0001));
    assert_eq!(atomic(1, 9, "lock cmpxchg [%r10-8], %r1"), (1, 9, 1));
}

#[test]
fn atomics_32_touch_the_low_word() {
    let hi = 0xaaaa_aaaa_0000_0000u64;
    assert_eq!(atomic(hi | 1, 0xffff_ffff, "lock add32 [%r10-8], %r1"), (hi, 0xffff_ffff, 0xdead_0000_0001));
    assert_eq!(atomic(hi | 1, 0x1_0000_0002, "lock fetch add32 [%r10-8], %r1"), (hi | 3, 1, 0xdead_0000_0001));
    assert_eq!(atomic(hi | 0xc, 0xa, "lock fetch or32 [%r10-8], %r1"), (hi | 0xe, 0xc, 0xdead_0000_0001));
    assert_eq!(atomic(hi | 0xc, 0xa, "lock fetch and32 [%r10-8], %r1"), (hi | 0x8, 0xc, 0xdead_0000_0001));
    assert_eq!(atomic(hi | 0xc, 0xa, "lock fetch xor32 [%r10-8], %r1"), (hi | 0x6, 0xc, 0xdead_0000_0001));
    assert_eq!(atomic(hi | 0xc, 0xa, "lock xor32 [%r10-8], %r1"), (hi | 0x6, 0xa, 0xdead_0000_0001));
    assert_eq!(atomic(hi | 7, 0xffff_0000_0009, "lock xchg32 [%r10-8], %r1"), (hi | 9, 7, 0xdead_0000_0001));
    // cmpxchg32 compares only r0's low half (1) and zero-extends the old value into r0.
    assert_eq!(atomic(hi | 1, 9, "lock cmpxchg32 [%r10-8], %r1"), (hi | 9, 9, 1));
    assert_eq!(atomic(hi | 2, 9, "lock cmpxchg32 [%r10-8], %r1"), (hi | 2, 9, 2));
}

#[test]
fn misaligned_atomics_trap() {
    let o = run("mov %r1, 1\nlock add [%r10-12], %r1\nexit");
    let t = assert_trap(o, TrapCode::Misaligned, 1);
    assert_eq!(t.access, 8 | 0x100 | 0x200);
    let o = run("mov %r1, 1\nlock add32 [%r10-6], %r1\nexit");
    assert_trap(o, TrapCode::Misaligned, 1);
    assert_eq!(r0("mov %r1, 1\nlock add32 [%r10-4], %r1\nldxw %r0, [%r10-4]\nexit"), 1);
}

#[test]
fn jumps_compare_full_width_or_low_half() {
    // rbpf's JMP32-as-a-flag bug: a 64-bit jeq must see the high half.
    assert_eq!(r0("lddw %r1, 0x100000000\nmov %r2, 0\nmov %r0, 1\njeq %r1, %r2, +1\nexit\nmov %r0, 2\nexit"), 1);
    assert_eq!(r0("lddw %r1, 0x100000000\nmov %r2, 0\nmov %r0, 1\njeq32 %r1, %r2, +1\nexit\nmov %r0, 2\nexit"), 2);
    assert_eq!(r0("mov %r1, -1\nmov %r0, 1\njgt %r1, -2, +1\nexit\nmov %r0, 2\nexit"), 2, "imm sign-extended");
    assert_eq!(r0("mov %r1, -1\nmov %r0, 1\njsgt %r1, 0, +1\nexit\nmov %r0, 2\nexit"), 1);
    assert_eq!(r0("mov32 %r1, -1\nmov %r0, 1\njslt32 %r1, 0, +1\nexit\nmov %r0, 2\nexit"), 2);
    assert_eq!(r0("mov32 %r1, -1\nmov %r0, 1\njslt %r1, 0, +1\nexit\nmov %r0, 2\nexit"), 1);
    assert_eq!(r0("mov %r1, 6\nmov %r0, 1\njset %r1, 2, +1\nexit\nmov %r0, 2\nexit"), 2);
    assert_eq!(r0("mov %r0, 1\nja32 +1\nexit\nmov %r0, 3\nexit"), 3);
}

#[test]
fn entry_registers() {
    let h = HelperTable::empty();
    let m = Machine::new(&h);
    let mut ctx = [0u8; 24];
    let addr = ctx.as_ptr() as u64;
    let or_all =
        "mov %r0, %r0\nor %r0, %r3\nor %r0, %r4\nor %r0, %r5\nor %r0, %r6\nor %r0, %r7\nor %r0, %r8\nor %r0, %r9\nexit";
    assert_eq!(run_on(&m, or_all, &mut ctx), Outcome::Exit(0), "r0 and r3-r9 start at 0");
    assert_eq!(run_on(&m, "mov %r0, %r1\nexit", &mut ctx), Outcome::Exit(addr));
    assert_eq!(run_on(&m, "mov %r0, %r2\nexit", &mut ctx), Outcome::Exit(24));
    assert_eq!(run_on(&m, "mov %r0, %r1\nexit", &mut []), Outcome::Exit(0), "no ctx: r1 = 0");
    assert_eq!(run_on(&m, "mov %r0, %r2\nexit", &mut []), Outcome::Exit(0));
    // r10 is 16-aligned and the stack below it is usable.
    assert_eq!(run_on(&m, "mov %r0, %r10\nand %r0, 15\nexit", &mut ctx), Outcome::Exit(0));
}

#[test]
fn local_call_gets_fresh_frame_and_preserves_callee_saved() {
    let prologue = "mov %r1, 1\nmov %r2, 2\nmov %r6, 6\nmov %r7, 7\nmov %r8, 8\nmov %r9, 9\nstdw [%r10-8], 77\n";
    let callee =
        "f:\nmov %r0, %r1\nadd %r0, %r2\nmov %r1, 100\nmov %r6, 100\nmov %r7, 100\nmov %r8, 100\nmov %r9, 100\nexit";
    let prog = |after: &str| format!("{prologue}call local f\n{after}\nexit\n{callee}");
    assert_eq!(r0(&prog("")), 3, "r0 comes from the callee, which got r1-r5");
    assert_eq!(r0(&prog("mov %r0, %r6\nadd %r0, %r7\nadd %r0, %r8\nadd %r0, %r9")), 30, "r6-r9 preserved");
    assert_eq!(r0(&prog("mov %r0, %r1")), 1, "r1-r5 are the caller's again");
    assert_eq!(r0(&prog("ldxdw %r0, [%r10-8]")), 77, "the caller's frame is untouched");
    // The callee starts with zeroed r6-r9 and r0, a frame 512 bytes lower, and zeroed stack memory.
    let probe = |body: &str| format!("{prologue}mov %r0, 5\ncall local f\nexit\nf:\n{body}\nexit");
    assert_eq!(r0(&probe("mov %r0, %r0\nor %r0, %r6\nor %r0, %r7\nor %r0, %r8\nor %r0, %r9")), 0);
    assert_eq!(r0(&probe("ldxdw %r0, [%r10-8]")), 0);
    let fp =
        format!("{prologue}mov %r6, %r10\ncall local f\nsub %r6, %r0\nmov %r0, %r6\nexit\nf:\nmov %r0, %r10\nexit");
    assert_eq!(r0(&fp), 512);
}

/// Entry calls `f(n)`, which recurses until n = 0: 1 + (n + 1) frames.
fn recursion(n: u32) -> String {
    format!("mov %r1, {n}\ncall local f\nexit\nf:\njeq %r1, 0, +2\nsub %r1, 1\ncall local f\nmov %r0, 7\nexit")
}

#[test]
fn eight_frames_run_nine_trap() {
    assert_eq!(r0(&recursion(6)), 7);
    assert_trap(run(&recursion(7)), TrapCode::CallDepth, 5);
}

#[test]
fn budget_is_charged_per_block() {
    let h = HelperTable::empty();
    let mut m = Machine::new(&h);
    // Blocks: [mov] and [add, ja]. Budget 10: 1, then 2 per iteration: 9, 7, 5, 3, 1, then 1 < 2.
    m.budget = 10;
    assert_trap(run_on(&m, "mov %r0, 0\nadd %r0, 1\nja -2\nexit", &mut []), TrapCode::Budget, 1);
    m.budget = 2;
    assert_eq!(run_on(&m, "mov %r0, 1\nexit", &mut []), Outcome::Exit(1));
    m.budget = 1;
    assert_trap(run_on(&m, "mov %r0, 1\nexit", &mut []), TrapCode::Budget, 0);
    // A never-ending loop stops with the default budget rather than hanging.
    let m = Machine::new(&h);
    assert_trap(run_on(&m, "mov %r0, 0\nja -1\nexit", &mut []), TrapCode::Budget, 1);
}

#[test]
fn out_of_bounds_accesses_trap_with_their_slot() {
    let h = HelperTable::empty();
    let m = Machine::new(&h);
    let t = assert_trap(run_on(&m, "mov %r0, 0\nldxdw %r0, [%r10+0]\nexit", &mut []), TrapCode::OutOfBounds, 1);
    assert_eq!(t.access, 8);
    let t = assert_trap(run_on(&m, "stb [%r10-4097], 1\nexit", &mut []), TrapCode::OutOfBounds, 0);
    assert_eq!(t.access, 1 | 0x100);
    assert_eq!(run_on(&m, "stb [%r10-4096], 1\nmov %r0, 0\nexit", &mut []), Outcome::Exit(0), "bottom of the area");
    let t = assert_trap(run_on(&m, "ldxb %r0, [%r1+0]\nexit", &mut []), TrapCode::OutOfBounds, 0);
    assert_eq!(t.detail, 0, "null pointer");
    let mut ctx = [1u8, 2, 3, 4];
    let addr = ctx.as_ptr() as u64;
    let t = assert_trap(run_on(&m, "ldxw %r0, [%r1+1]\nexit", &mut ctx), TrapCode::OutOfBounds, 0);
    assert_eq!((t.detail, t.access), (addr + 1, 4));
    assert_eq!(run_on(&m, "ldxw %r0, [%r1+0]\nexit", &mut ctx), Outcome::Exit(0x0403_0201));
    assert_eq!(run_on(&m, "stb [%r1+3], 9\nmov %r0, 0\nexit", &mut ctx), Outcome::Exit(0));
    assert_eq!(ctx, [1, 2, 3, 9], "ctx writes reach the caller's buffer");
    let mut wrap = [0u8; 8];
    let o = run_on(&m, "lddw %r1, 0xfffffffffffffffe\nldxw %r0, [%r1+0]\nexit", &mut wrap);
    assert_trap(o, TrapCode::OutOfBounds, 2);
}

#[test]
fn regions_are_checked_and_read_only_regions_refuse_stores() {
    let h = HelperTable::empty();
    let mut data = vec![0x11u8, 0x22, 0x33, 0x44];
    let start = data.as_mut_ptr().expose_provenance() as u64;
    let regions = [Region { start, end: start + 4, writable: 0 }];
    let mut m = Machine::new(&h);
    m.regions = &regions;
    let load = format!("lddw %r1, {start:#x}\nldxh %r0, [%r1+2]\nexit");
    assert_eq!(run_on(&m, &load, &mut []), Outcome::Exit(0x4433));
    let store = format!("lddw %r1, {start:#x}\nsth [%r1+2], 1\nexit");
    assert_trap(run_on(&m, &store, &mut []), TrapCode::OutOfBounds, 2);
    let over = format!("lddw %r1, {start:#x}\nldxh %r0, [%r1+3]\nexit");
    assert_trap(run_on(&m, &over, &mut []), TrapCode::OutOfBounds, 2);
    assert_eq!(data, [0x11, 0x22, 0x33, 0x44]);
}

#[test]
fn r10_cannot_be_written() {
    let mut bytes = vec![0xb7, 0x0a, 0, 0, 1, 0, 0, 0];
    bytes.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
    assert!(matches!(decode(&bytes), Err(crate::isa::DecodeError::WritesR10 { at: 0 })));
    let hand_built = Code::new(vec![
        Located {
            pc: 0,
            insn: Insn::Alu { op: crate::isa::AluOp::Mov, width: Width::W64, dst: Reg::R10, src: Operand::Imm(1) },
        },
        Located { pc: 1, insn: Insn::Exit },
    ]);
    assert_eq!(Program::new(&hand_built).unwrap_err(), InterpError::WritesR10 { at: 0 });
    // Stores through r10 are fine; r10 itself never changes.
    assert_eq!(r0("mov %r1, %r10\nstdw [%r10-8], 1\nmov %r0, %r10\nsub %r0, %r1\nexit"), 0);
}

#[test]
fn invalid_structure_is_an_error_not_a_run() {
    // Jump from the entry function into the callee.
    let c = code("call local f\nja +1\nexit\nf:\nmov %r0, 1\nexit");
    assert!(matches!(Program::new(&c), Err(InterpError::Cfg(_))));
}

fn sum_args(_cx: &mut HelperCtx<'_>, a: u64, b: u64, c: u64, d: u64, e: u64) -> u64 {
    a + 10 * b + 100 * c + 1000 * d + 10000 * e
}
declare_helper!(sum_args_helper => sum_args);

/// Writes r2 as 8 bytes at r1, then reads them back and returns them plus one.
fn poke(cx: &mut HelperCtx<'_>, addr: u64, value: u64, _: u64, _: u64, _: u64) -> u64 {
    if let Err(f) = cx.write(addr, &value.to_le_bytes()) {
        cx.fault(f, addr, 8, true);
        return 0;
    }
    let mut buf = [0u8; 8];
    match cx.read_into(addr, &mut buf) {
        Ok(()) => u64::from_le_bytes(buf) + 1,
        Err(_) => 0,
    }
}
declare_helper!(poke_helper => poke);

/// Reads r2 bytes at r1 through the checked API: 1 when allowed, 0 when refused.
fn read_len(cx: &mut HelperCtx<'_>, addr: u64, len: u64, _: u64, _: u64, _: u64) -> u64 {
    u64::from(cx.read(addr, len as usize).is_ok())
}
declare_helper!(read_len_helper => read_len);

fn boom(_cx: &mut HelperCtx<'_>, _: u64, _: u64, _: u64, _: u64, _: u64) -> u64 {
    panic!("helper bug")
}
declare_helper!(boom_helper => boom);

fn helpers() -> HelperTable {
    let mut t = conformance_helpers();
    t.set(1, sum_args_helper);
    t.set(2, poke_helper);
    t.set(3, boom_helper);
    t.set(4, read_len_helper);
    t
}

#[test]
fn helper_calls() {
    let h = helpers();
    let m = Machine::new(&h);
    let args = "mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\n";
    assert_eq!(run_on(&m, &format!("{args}call 1\nexit"), &mut []), Outcome::Exit(54321));
    let kept = format!("{args}call 1\nmov %r0, %r1\nadd %r0, %r2\nadd %r0, %r3\nadd %r0, %r4\nadd %r0, %r5\nexit");
    assert_eq!(run_on(&m, &kept, &mut []), Outcome::Exit(15), "r1-r5 unchanged by a helper call");
    let poke = "mov %r1, %r10\nsub %r1, 8\nmov %r2, 41\ncall 2\nldxdw %r1, [%r10-8]\nadd %r0, %r1\nexit";
    assert_eq!(run_on(&m, poke, &mut []), Outcome::Exit(42 + 41));
    let t = assert_trap(run_on(&m, "mov %r1, 8\nmov %r2, 1\ncall 2\nexit", &mut []), TrapCode::OutOfBounds, 2);
    assert_eq!((t.detail, t.access), (8, 8 | 0x100));
    assert_trap(run_on(&m, "call 3\nexit", &mut []), TrapCode::HelperFault, 0);
    let read = |len: u64| format!("mov %r1, %r10\nsub %r1, 16\nlddw %r2, {len:#x}\ncall 4\nexit");
    assert_eq!(run_on(&m, &read(16), &mut []), Outcome::Exit(1));
    assert_eq!(run_on(&m, &read(17), &mut []), Outcome::Exit(0));
    assert_eq!(run_on(&m, &read(1 << 44), &mut []), Outcome::Exit(0), "refused before allocating");
    // uBPF's unwind (helper 5): r1 = 0 stops the program at once with r0 = 0.
    assert_eq!(run_on(&m, "mov %r1, 0\ncall 5\nmov %r0, 9\nexit", &mut []), Outcome::Exit(0));
    assert_eq!(run_on(&m, "mov %r1, 4\ncall 5\nadd %r0, 1\nexit", &mut []), Outcome::Exit(5));
    // ...also from inside a callee: every frame unwinds.
    assert_eq!(
        run_on(&m, "call local f\nmov %r0, 9\nexit\nf:\nmov %r1, 0\ncall 5\nmov %r0, 8\nexit", &mut []),
        Outcome::Exit(0)
    );
}

#[test]
fn unknown_helpers_and_callx() {
    let h = helpers();
    let m = Machine::new(&h);
    let t = assert_trap(run_on(&m, "mov %r0, 0\ncall 77\nexit", &mut []), TrapCode::UnknownHelper, 1);
    assert_eq!(t.detail, 77);
    let t = assert_trap(run_on(&m, "call -1\nexit", &mut []), TrapCode::UnknownHelper, 0);
    assert_eq!(t.detail, 0xffff_ffff);
    assert_eq!(run_on(&m, "mov %r1, 3\nmov %r2, 5\ncall %r2\nexit", &mut []), Outcome::Exit(3));
    let t = assert_trap(run_on(&m, "mov %r2, 6\ncall %r2\nexit", &mut []), TrapCode::BadCallTarget, 1);
    assert_eq!(t.detail, 6);
    let t = assert_trap(run_on(&m, "lddw %r2, 0x10000000005\ncall %r2\nexit", &mut []), TrapCode::BadCallTarget, 2);
    assert_eq!(t.detail, 0x100_0000_0005);
}

fn hand(insn: Insn) -> Code {
    Code::new(vec![Located { pc: 0, insn }, Located { pc: insn.slots(), insn: Insn::Exit }])
}

#[test]
fn pseudo_loads_and_unsupported_instructions() {
    let h = HelperTable::empty();
    let mut value = [0u8; 16];
    let vaddr = value.as_mut_ptr();
    let maps = [0x1234usize as *mut std::ffi::c_void];
    let values = [vaddr, std::ptr::null_mut()];
    let mut m = Machine::new(&h);
    m.maps = &maps;
    m.map_values = &values;
    let ld = |imm| hand(Insn::LdImm64 { dst: Reg::R0, imm });
    assert_eq!(run_interp(&m, &ld(Imm64::MapIdx(0)), &mut []), Outcome::Exit(0x1234));
    let want = vaddr as u64 + 4;
    assert_eq!(run_interp(&m, &ld(Imm64::MapIdxValue { idx: 0, off: 4 }), &mut []), Outcome::Exit(want));
    // A function value is the tagged slot (callbacks run through `exec::run_callback`).
    let tagged = crate::abi::INTERP_FUNC_TAG;
    assert_eq!(run_interp(&m, &ld(Imm64::Func(0)), &mut []), Outcome::Exit(tagged));
    let cases = [
        (ld(Imm64::MapIdx(1)), unsupported::MAP_INDEX),
        (ld(Imm64::MapIdx(-1)), unsupported::MAP_INDEX),
        (ld(Imm64::MapIdxValue { idx: 1, off: 0 }), unsupported::MAP_INDEX),
        (ld(Imm64::MapIdxValue { idx: 2, off: 0 }), unsupported::MAP_INDEX),
        (ld(Imm64::MapFd(3)), unsupported::MAP_FD),
        (ld(Imm64::MapValue { fd: 3, off: 0 }), unsupported::MAP_VALUE_FD),
        (ld(Imm64::BtfId { id: 3, btf_fd: 0 }), unsupported::BTF_ID),
        (hand(Insn::Call(CallTarget::Kfunc { btf_id: 9, off: 0 })), unsupported::KFUNC),
        (hand(Insn::LdPacket { size: crate::isa::Size::W, index: None, imm: 0 }), unsupported::LD_PACKET),
    ];
    for (c, detail) in cases {
        let t = assert_trap(run_interp(&m, &c, &mut []), TrapCode::Unsupported, 0);
        assert_eq!(t.detail, detail, "{:?}", c.insns()[0]);
    }
}

/// splitmix64, for the robustness test below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// Where a slot keeps its relative target: `Some(true)` = off field, `Some(false)` = imm field.
fn rel_field(b: &[u8; 8]) -> Option<bool> {
    match (b[0] & 7, b[0]) {
        (5, 0x85) => (b[1] >> 4 == 1).then_some(false),
        (5, 0x8d | 0x95) => None,
        (6, 0x06) => Some(false),
        (5 | 6, _) => Some(true),
        _ => None,
    }
}

/// A random instruction that decodes on its own (its jump target zeroed), as bytes.
fn random_insn(rng: &mut Rng) -> Vec<u8> {
    loop {
        let mut b = rng.next().to_le_bytes();
        b[1] &= 0x77;
        b[2..4].copy_from_slice(&((rng.next() % 24) as i16 - 12).to_le_bytes());
        if rng.next().is_multiple_of(2) {
            b[4..8].copy_from_slice(&((rng.next() % 64) as i32 - 8).to_le_bytes());
        }
        match rel_field(&b) {
            Some(true) => b[2..4].fill(0),
            Some(false) => b[4..8].fill(0),
            None => {}
        }
        if b[0] == 0x18 && b[1] >> 4 == 4 {
            continue;
        }
        let mut prog = b.to_vec();
        if b[0] == 0x18 {
            prog.extend_from_slice(&(rng.next() & 0xffff_ffff_0000_0000).to_le_bytes());
        }
        let len = prog.len();
        prog.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
        if decode(&prog).is_ok() {
            prog.truncate(len);
            return prog;
        }
    }
}

/// Random programs that decode and validate run to an outcome without panicking, and never write
/// outside the memory they were given: the bytes around the ctx stay intact.
#[test]
fn random_programs_never_panic_or_escape() {
    let seed = 0xb0b0;
    let mut rng = Rng(seed);
    let h = conformance_helpers();
    let mut m = Machine::new(&h);
    m.budget = 5_000;
    let mut ran = 0;
    let mut outcomes = [0usize; 2];
    for n in 0..8_000 {
        let insns: Vec<Vec<u8>> = (0..2 + rng.next() % 12).map(|_| random_insn(&mut rng)).collect();
        let mut starts = vec![];
        let mut pc = 0usize;
        for i in &insns {
            starts.push(pc);
            pc += i.len() / 8;
        }
        starts.push(pc);
        let mut bytes = Vec::new();
        for (k, mut i) in insns.into_iter().enumerate() {
            let delta = starts[(rng.next() % starts.len() as u64) as usize] as i64 - starts[k] as i64 - 1;
            match rel_field(&i[..8].try_into().expect("8 bytes")) {
                Some(true) => i[2..4].copy_from_slice(&(delta as i16).to_le_bytes()),
                Some(false) => i[4..8].copy_from_slice(&(delta as i32).to_le_bytes()),
                None => {}
            }
            bytes.extend_from_slice(&i);
        }
        bytes.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
        let Ok(code) = decode(&bytes) else { continue };
        if Program::new(&code).is_err() {
            continue;
        }
        let mut buf = [0x5au8; 96];
        let o = run_interp(&m, &code, &mut buf[16..80]);
        outcomes[usize::from(matches!(o, Outcome::Trap(_)))] += 1;
        assert!(buf[..16].iter().chain(&buf[80..]).all(|&b| b == 0x5a), "seed {seed}, program {n}: wrote outside ctx");
        ran += 1;
    }
    assert!(ran > 2_000, "seed {seed}: only {ran} programs were valid");
    assert!(outcomes[0] > 500 && outcomes[1] > 500, "seed {seed}: exits/traps {outcomes:?}");
}
