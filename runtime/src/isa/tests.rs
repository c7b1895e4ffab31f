//! Unit tests of decode/encode/assemble; the llvm-objdump and conformance oracles live in the testsuite.

use super::*;

/// A small deterministic PRNG (splitmix64) so tests need no dependencies.
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

/// Every slot that decodes re-encodes to the same bytes: decode and encode are exact inverses.
#[test]
fn random_slots_round_trip() {
    let mut rng = Rng(7);
    let mut decoded = 0;
    for _ in 0..400_000 {
        let r = rng.next();
        let mut b = r.to_le_bytes();
        // Bias towards small registers, offsets and immediates so that most slots are valid.
        b[1] &= if rng.next().is_multiple_of(4) { 0xff } else { 0x77 };
        if rng.next().is_multiple_of(2) {
            b[2] = 0;
            b[3] = 0;
        }
        match rng.next() % 3 {
            0 => b[4..8].copy_from_slice(&[0; 4]),
            1 => b[4..8].copy_from_slice(&((rng.next() % 70) as i32).to_le_bytes()),
            _ => {}
        }
        if rng.next().is_multiple_of(2) {
            b[1] &= 0x0f;
        }
        // A one-slot program followed by exit, and lddw's second slot when the first is 0x18.
        let mut prog = b.to_vec();
        if b[0] == 0x18 {
            prog.extend_from_slice(&(rng.next() & 0xffff_ffff_0000_0000).to_le_bytes());
        }
        prog.extend_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
        if let Ok(code) = decode(&prog) {
            decoded += 1;
            assert_eq!(code.to_bytes(), prog, "round trip of {:02x?}", &prog);
        }
    }
    assert!(decoded > 30_000, "only {decoded} random slots decoded");
}

#[test]
fn rejects_structural_errors() {
    assert_eq!(decode(&[0; 7]), Err(DecodeError::Length { len: 7 }));
    assert_eq!(decode(&[]), Err(DecodeError::Empty));
    // lddw without its second slot.
    assert!(matches!(decode(&[0x18, 0, 0, 0, 0, 0, 0, 0]), Err(DecodeError::BadLdImm64 { at: 0, .. })));
    // ja +5 out of range.
    let p = [[0x05, 0, 5, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    assert!(matches!(decode(&p), Err(DecodeError::TargetOutOfRange { at: 0, target: 6, .. })));
    // ja +1 into the second half of an lddw.
    let p = [[0x05, 0, 1, 0, 0, 0, 0, 0], [0x18, 0, 0, 0, 0, 0, 0, 0], [0; 8], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    assert!(matches!(decode(&p), Err(DecodeError::TargetInLdImm64 { at: 0, target: 2, .. })));
    // r11 and r10 as destination.
    let p = [[0xb7, 0x0b, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    assert!(matches!(decode(&p), Err(DecodeError::BadRegister { at: 0, reg: 11 })));
    let p = [[0xb7, 0x0a, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    assert!(matches!(decode(&p), Err(DecodeError::WritesR10 { at: 0 })));
    // Falls off the end.
    assert!(matches!(decode(&[0xb7, 0, 0, 0, 0, 0, 0, 0]), Err(DecodeError::FallsOffEnd { at: 0 })));
    // Unknown opcode.
    let p = [[0xff, 0, 0, 0, 0, 0, 0, 0], [0x95, 0, 0, 0, 0, 0, 0, 0]].concat();
    assert!(matches!(decode(&p), Err(DecodeError::UnknownOpcode { at: 0, opcode: 0xff })));
}

#[test]
fn assembles_the_dialect() {
    let text = "mov %r0, 0x80000000\nlddw %r1, -1\njeq32 %r0, -5, exit\nlock fetch add32 [%r10-8], %r2\n\
                ldxsh %r3, [%r1+0x10]\nmovsx1664 %r4, %r3\nbswap16 %r4\ncall local f\nexit\nf:\nexit";
    let code = decode(&assemble(text).unwrap()).unwrap();
    let listing: Vec<String> = code.insns().iter().map(|l| l.to_string()).collect();
    assert_eq!(
        listing,
        [
            "r0 = -0x80000000",
            "r1 = -0x1 ll",
            "if w0 == -0x5 goto +0x5",
            "w2 = atomic_fetch_add((u32 *)(r10 - 0x8), w2)",
            "r3 = *(s16 *)(r1 + 0x10)",
            "r4 = (s16)r3",
            "r4 = bswap16 r4",
            "call 0x1",
            "exit",
            "exit",
        ]
    );
    assert!(assemble("mov %r11, 1").is_err());
    assert!(assemble("jeq %r1, 0, nowhere\nexit").is_err());
    assert!(assemble("add %r1, 0x100000000").is_err());
}

#[test]
fn splits_functions_and_blocks() {
    let text = "mov %r1, 1\njeq %r1, 0, +1\ncall local f\nexit\nf:\nmov %r0, 2\nja +0\nexit";
    let code = decode(&assemble(text).unwrap()).unwrap();
    let cfg = Cfg::new(&code).unwrap();
    let starts: Vec<Pc> = cfg.functions().iter().map(|f| f.start).collect();
    assert_eq!(starts, [0, 4]);
    let lens: Vec<Option<u32>> = (0..code.len()).map(|i| cfg.block_len(i)).collect();
    assert_eq!(lens, [Some(2), None, Some(1), Some(1), Some(2), None, Some(1)]);
    // A jump from the entry function into f is rejected.
    let code = decode(&assemble("ja f\nexit\nf:\ncall local f\nexit").unwrap()).unwrap();
    assert!(matches!(Cfg::new(&code), Err(CfgError::JumpOutOfFunction { at: 0, target: 2, function: 0 })));
}
