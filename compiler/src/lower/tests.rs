//! Lowering unit tests: every instruction form lowers to IR that Cranelift's verifier accepts, in both
//! verified and checked mode. Behaviour is tested against the interpreter in the testsuite.

use super::*;
use bpfc_runtime::isa::{assemble, decode};

/// One program touching every instruction form the assembler can write.
const EVERY_FORM: &str = "
    mov %r0, 0
    mov32 %r1, -1
    lddw %r2, 0x123456789abcdef0
    add %r0, %r1
    add32 %r0, 7
    sub %r0, %r2
    mul32 %r0, %r1
    div %r0, %r1
    div32 %r0, 0
    sdiv %r0, -1
    sdiv32 %r0, %r1
    mod %r0, %r1
    mod32 %r0, 0
    smod %r0, %r2
    smod32 %r0, -1
    or %r0, %r1
    and32 %r0, 0xff
    lsh %r0, 68
    rsh32 %r0, %r1
    arsh %r0, -3
    arsh32 %r0, %r2
    xor %r0, %r1
    neg %r0
    neg32 %r1
    movsx864 %r3, %r0
    movsx1632 %r3, %r0
    movsx3264 %r3, %r0
    le16 %r3
    be32 %r3
    bswap64 %r3
    stxdw [%r10-8], %r0
    stw [%r10-16], -5
    ldxb %r4, [%r10-8]
    ldxsh %r4, [%r10-8]
    ldxsw %r4, [%r10-16]
    ldxdw %r4, [%r10-8]
    lock add [%r10-8], %r1
    lock fetch or32 [%r10-16], %r4
    lock xchg [%r10-8], %r5
    lock cmpxchg32 [%r10-16], %r5
    jeq %r0, %r1, l1
    jset32 %r0, 0x10, l1
    jsle %r0, -1, l1
l1:
    jlt32 %r4, %r5, l2
    ja l2
l2:
    call 5
    call local f
    call %r2
    ja32 end
end:
    exit
f:
    mov %r0, %r1
    exit
";

fn lower_and_verify(text: &str, checked: bool) {
    let code = decode(&assemble(text).unwrap()).unwrap();
    let cfg = Cfg::new(&code).unwrap();
    let isa = crate::emit::target_isa(None, false).unwrap();
    let ids = FunctionIds::sequential(0, cfg.functions().len(), &callback_targets(&code));
    let opts = LowerOptions { checked, maps: vec![] };
    let lowered = lower_program(&code, &opts, &ids, isa.frontend_config(), isa.default_call_conv()).unwrap();
    // The entry function is compiled as the program entry itself (nothing calls it), then `f`.
    assert_eq!(lowered.functions.len(), 2);
    verify(&lowered, isa.flags()).unwrap_or_else(|e| {
        let text: Vec<String> = lowered.functions.iter().map(|f| f.display().to_string()).collect();
        panic!("{e}\n{}", text.join("\n"))
    });
}

#[test]
fn every_form_lowers_to_valid_ir() {
    lower_and_verify(EVERY_FORM, false);
}

#[test]
fn every_form_lowers_to_valid_checked_ir() {
    lower_and_verify(EVERY_FORM, true);
}

#[test]
fn loops_and_self_jumps_seal_correctly() {
    let text = "mov %r0, 10\nloop:\nsub %r0, 1\njne %r0, 0, loop\nja +0\nmov %r1, 0\nspin:\njeq %r1, 1, spin\nexit";
    let code = decode(&assemble(text).unwrap()).unwrap();
    let isa = crate::emit::target_isa(None, false).unwrap();
    let lowered = lower_program(
        &code,
        &LowerOptions::default(),
        &FunctionIds::sequential(0, 1, &[]),
        isa.frontend_config(),
        isa.default_call_conv(),
    )
    .unwrap();
    verify(&lowered, isa.flags()).unwrap();
}
