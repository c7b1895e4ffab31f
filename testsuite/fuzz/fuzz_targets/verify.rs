//! Fuzz target `verify`: any byte string that decodes as BPF bytecode goes through the verifier as a
//! kprobe program with a hash map, an array and a ringbuf (the first byte picks the program type); the
//! verifier must accept or reject, never panic or hang (the 1,000,000-instruction limit bounds it).
#![no_main]

use bpfc_compiler::verify::{MapDef, VerifyInput, map_type, verify};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::ctx::{Arch, CtxLayout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Ok(code) = bpfc_runtime::isa::decode(rest) else { return };
    let prog_type = [ProgType::Kprobe, ProgType::Tracepoint, ProgType::RawTracepoint, ProgType::PerfEvent][sel as usize % 4];
    let ctx = CtxLayout::for_prog_type(prog_type, Arch::X86_64).expect("tracing layout");
    let map = |name: &str, map_type, key_size, value_size, max_entries| MapDef {
        name: name.into(),
        map_type,
        key_size,
        value_size,
        max_entries,
        ..MapDef::default()
    };
    let maps = [
        map("h", map_type::HASH, 8, 16, 8),
        map("a", map_type::ARRAY, 4, 16, 1),
        map("rb", map_type::RINGBUF, 0, 0, 4096),
    ];
    let _ = verify(&VerifyInput {
        name: "fuzz",
        code: &code,
        prog_type,
        ctx: &ctx,
        maps: &maps,
        map_fds: &[],
        lines: None,
        gpl: sel & 0x80 != 0,
        log_level: u32::from(sel >> 5 & 3),
    });
});
