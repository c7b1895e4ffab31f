//! Facts about reading objects that the libbpf oracle cannot check: legacy `SEC("maps")` definitions
//! (libbpf 1.x refuses them), the `version` section, kprobe `pt_regs` offsets on x86-64 (values from the
//! kernel's `arch/x86/include/asm/ptrace.h`, not from our BTF code), and CO-RE against a chosen target
//! BTF standing in for another architecture. Sources in `testsuite/elf-progs/local/`, compiled with
//! clang-19 at test time (loud SKIP without it).

mod elf_common;

use bpfc_compiler::elf::{LoadOptions, MapKind, Object, TargetBtf};
use bpfc_runtime::isa::{Imm64, Insn};
use elf_common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::{Path, PathBuf};
use std::process::Command;

fn compile(src: &str, out: &Path) -> Result<PathBuf, String> {
    let src = root().join("testsuite/elf-progs/local").join(src);
    let obj = out.join(src.file_name().unwrap()).with_extension("o");
    run(Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-D__TARGET_ARCH_x86", "-I"])
        .arg(root().join("examples"))
        .arg("-c")
        .arg(&src)
        .arg("-o")
        .arg(&obj))?;
    Ok(obj)
}

fn legacy_maps(dir: &Path) -> Result<(), Failed> {
    let obj = Object::load(&compile("legacy_maps.bpf.c", dir)?, &LoadOptions::default()).map_err(|e| e.to_string())?;
    let want = [("legacy_hash", 1, 4, 16, 77, 1), ("legacy_array", 2, 4, 8, 3, 0)];
    if obj.maps.len() != 2 {
        return Err(format!("expected 2 maps, got {:?}", obj.maps).into());
    }
    for (m, (name, t, k, v, max, flags)) in obj.maps.iter().zip(want) {
        let got = (m.name.as_str(), m.map_type, m.key_size, m.value_size, m.max_entries, m.flags);
        if got != (name, t, k, v, max, flags) || m.kind != MapKind::Legacy {
            return Err(format!("map {got:?} ({:?}), expected {:?}", m.kind, (name, t, k, v, max, flags)).into());
        }
    }
    if obj.license != "Dual BSD/GPL" || obj.kern_version != Some(0x050a00) {
        return Err(format!("license {:?}, version {:?}", obj.license, obj.kern_version).into());
    }
    let p = &obj.programs[0];
    let refs: Vec<i32> = p
        .code
        .insns()
        .iter()
        .filter_map(|l| match l.insn {
            Insn::LdImm64 { imm: Imm64::MapIdx(i), .. } => Some(i),
            _ => None,
        })
        .collect();
    // The C code looks up legacy_array (index 1) first, then legacy_hash (index 0).
    if refs != [1, 0] {
        return Err(format!("map references {refs:?}, expected [1, 0]").into());
    }
    Ok(())
}

/// Offsets of the first two `ldx` from r1 (the pt_regs argument reads) in the program.
fn regs_offsets(obj: &Object) -> Vec<i16> {
    obj.programs[0]
        .code
        .insns()
        .iter()
        .filter_map(|l| match l.insn {
            Insn::Load { base, off, .. } if base.num() == 1 => Some(off),
            _ => None,
        })
        .take(2)
        .collect()
}

fn kprobe_x86(dir: &Path) -> Result<(), Failed> {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        eprintln!("SKIP kprobe_x86: /sys/kernel/btf/vmlinux absent");
        return Ok(());
    }
    let obj = Object::load(&compile("kprobe_regs.bpf.c", dir)?, &LoadOptions::default()).map_err(|e| e.to_string())?;
    let mut offs = regs_offsets(&obj);
    offs.sort();
    // x86-64 struct pt_regs: si at 13*8, di at 14*8.
    if offs != [104, 112] || obj.programs[0].core_relos_applied != 2 {
        return Err(format!(
            "pt_regs reads at {offs:?} ({} CO-RE), expected [104, 112]",
            obj.programs[0].core_relos_applied
        )
        .into());
    }
    Ok(())
}

fn kprobe_other_btf(dir: &Path) -> Result<(), Failed> {
    let fake = compile("fake_regs.c", dir)?;
    let btf = dir.join("fake_regs.btf");
    run(Command::new("llvm-objcopy-19").arg(format!("--dump-section=.BTF={}", btf.display())).arg(&fake))?;
    let opts = LoadOptions { target_btf: TargetBtf::File(btf) };
    let obj = Object::load(&compile("kprobe_regs.bpf.c", dir)?, &opts).map_err(|e| e.to_string())?;
    let mut offs = regs_offsets(&obj);
    offs.sort();
    if offs != [8, 24] {
        return Err(format!("pt_regs reads at {offs:?}, expected [8, 24] from the given BTF").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let dir = tmp("elf-read");
    let missing = !have("clang-19") || !have("llvm-objcopy-19");
    if missing {
        eprintln!("SKIP (elf_read): clang-19 / llvm-objcopy-19 not found");
    }
    type Case = fn(&Path) -> Result<(), Failed>;
    let tests: [(&str, Case); 3] = [
        ("legacy_maps", legacy_maps),
        ("kprobe_pt_regs_x86_64", kprobe_x86),
        ("kprobe_pt_regs_other_btf", kprobe_other_btf),
    ];
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            let d = dir.clone();
            Trial::test(name, move || f(&d)).with_ignored_flag(missing)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
