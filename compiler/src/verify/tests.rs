//! Messages, source lines, the log and the facts handed to the lowering.

use super::*;
use bpfc_runtime::ctx::Arch;
use bpfc_runtime::isa::{assemble, decode};

fn run(asm: &str, lines: Option<&BTreeMap<Pc, String>>, log_level: u32) -> Result<Facts, Box<Rejection>> {
    let code = decode(&assemble(asm).expect("assembles")).expect("decodes");
    let ctx = CtxLayout::for_prog_type(ProgType::Kprobe, Arch::X86_64).expect("layout");
    let maps = [MapDef {
        name: "m".into(),
        map_type: map_type::ARRAY,
        key_size: 4,
        value_size: 16,
        max_entries: 1,
        ..MapDef::default()
    }];
    verify(&VerifyInput {
        name: "t",
        code: &code,
        prog_type: ProgType::Kprobe,
        ctx: &ctx,
        maps: &maps,
        map_fds: &[(7, 0)],
        lines,
        gpl: true,
        log_level,
    })
}

#[test]
fn rejection_names_insn_line_and_state() {
    let mut lines = BTreeMap::new();
    lines.insert(0, "prog.c:10: int x = 0;".to_string());
    lines.insert(1, "prog.c:11: return *(long *)(ctx + 4);".to_string());
    let r = run("mov %r0, 0\nldxdw %r0, [%r1+4]\nexit", Some(&lines), 1).unwrap_err();
    assert_eq!(r.pc, Some(1));
    assert_eq!(r.line.as_deref(), Some("prog.c:11: return *(long *)(ctx + 4);"));
    assert_eq!(r.kernel.as_deref(), Some("invalid bpf_context access off=4 size=8"));
    let text = r.to_string();
    assert!(text.contains("insn #1"), "{text}");
    assert!(text.contains("R1=ctx()"), "{text}");
    assert!(text.contains("not a multiple of the access size 8"), "{text}");
    assert!(r.log.contains("1: r0 = *(u64 *)(r1 + 0x4)"), "{}", r.log);
}

#[test]
fn log_level_2_shows_state_after_every_insn() {
    let f = run("mov %r2, 5\nmov %r0, %r2\nexit", None, 2).unwrap();
    assert!(f.log.contains("R2=5"), "{}", f.log);
    assert!(f.log.contains("processed 3 insns"), "{}", f.log);
    assert!(run("mov %r0, 0\nexit", None, 0).unwrap().log.is_empty());
}

#[test]
fn facts_describe_accesses_and_stack() {
    // Raw map fd 7 maps to index 0 through `map_fds`.
    let asm = "stdw [%r10-16], 1\nldxdw %r2, [%r1+112]\nand %r2, 8\nlddw %r3, 0\nmov %r0, 0\nexit";
    let mut code = decode(&assemble(asm).unwrap()).unwrap().insns().to_vec();
    code[3].insn = bpfc_runtime::isa::Insn::LdImm64 {
        dst: bpfc_runtime::isa::Reg::R3,
        imm: bpfc_runtime::isa::Imm64::MapValue { fd: 7, off: 8 },
    };
    let code = Code::new(code);
    let ctx = CtxLayout::for_prog_type(ProgType::Kprobe, Arch::X86_64).unwrap();
    let maps = [MapDef {
        name: "m".into(),
        map_type: map_type::ARRAY,
        key_size: 4,
        value_size: 16,
        max_entries: 1,
        ..MapDef::default()
    }];
    let input = VerifyInput {
        name: "t",
        code: &code,
        prog_type: ProgType::Kprobe,
        ctx: &ctx,
        maps: &maps,
        map_fds: &[(7, 0)],
        lines: None,
        gpl: true,
        log_level: 0,
    };
    let f = verify(&input).unwrap();
    assert_eq!(
        f.access[0],
        Some(AccessFact { region: Some(RegionKind::Stack), in_bounds: true, const_offset: Some(-16) })
    );
    assert_eq!(
        f.access[1],
        Some(AccessFact { region: Some(RegionKind::Ctx), in_bounds: true, const_offset: Some(112) })
    );
    assert_eq!(f.access[2], None);
    assert_eq!(f.access_at(&code, 0), f.access[0]);
    assert!(f.reachable_at(&code, 3) && !f.reachable_at(&code, 4));
    assert_eq!(f.stack_depth.get(&0), Some(&16));
    assert!(f.reachable.iter().all(|r| *r));
}

#[test]
fn bounded_loop_is_accepted_and_infinite_loop_is_named() {
    let f = run("mov %r0, 0\nmov %r1, 0\nloop:\nadd %r0, %r1\nadd %r1, 1\njlt %r1, 100, loop\nexit", None, 0).unwrap();
    assert!(f.processed > 300 && f.processed < 1000, "{}", f.processed);
    let r = run("mov %r0, 0\nloop:\njeq %r0, 0, loop\nexit", None, 0).unwrap_err();
    assert!(r.message.contains("infinite loop"), "{r}");
}
