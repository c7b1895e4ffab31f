//! Fuzz target `elf_parse`: any byte string fed to the object reader (ELF, BTF, .BTF.ext, maps, CO-RE,
//! linking, decoding) and to the pre-link section lister must give `Ok` or `Err`, never a panic, hang or
//! unbounded allocation. CO-RE resolves against the BTF of an example object (the kprobe example's own
//! `task_struct`, `pt_regs`, ... definitions) so relocations are exercised without parsing the kernel's
//! BTF on every input.
#![no_main]

use bpfc_compiler::btf::Btf;
use bpfc_compiler::elf::{LoadOptions, Object, TargetBtf, listing};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};

fn target() -> Arc<Btf> {
    static T: OnceLock<Arc<Btf>> = OnceLock::new();
    T.get_or_init(|| {
        let seed = include_bytes!("../../../examples/kprobe_openat2.bpf.o");
        let obj = Object::parse(seed, "seed.o", &LoadOptions { target_btf: TargetBtf::Parsed(Arc::default()) });
        Arc::new(obj.ok().and_then(|o| o.btf).unwrap_or_default())
    })
    .clone()
}

fuzz_target!(|data: &[u8]| {
    let opts = LoadOptions { target_btf: TargetBtf::Parsed(target()) };
    let _ = Object::parse(data, "fuzz.o", &opts);
    let _ = listing::sections(data, "fuzz.o");
    let _ = Btf::parse(data, "fuzz");
});
