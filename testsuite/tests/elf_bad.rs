//! Bad input: damaged BPF objects must produce a specific error naming what is wrong and where — never a
//! panic. The corpus is generated at test time from good example objects by targeted damage (one trial
//! per case, asserting fragments of the error text); `BPFC_WRITE_ELF_BAD=1` also writes each damaged
//! object to `testsuite/elf-bad/NAME.o` (the committed copies seed the fuzzer). Files committed under
//! `testsuite/elf-bad/crashers/` (inputs that once crashed the reader) must all be rejected or read
//! without a panic.

mod elf_common;

use bpfc_compiler::btf::Btf;
use bpfc_compiler::elf::{LoadOptions, Object, TargetBtf};
use elf_common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::sync::Arc;

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}
fn put16(b: &mut [u8], o: usize, v: u16) {
    b[o..o + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(b: &mut [u8], o: usize, v: u32) {
    b[o..o + 4].copy_from_slice(&v.to_le_bytes());
}
fn put64(b: &mut [u8], o: usize, v: u64) {
    b[o..o + 8].copy_from_slice(&v.to_le_bytes());
}

/// Just enough ELF64 layout knowledge to aim the damage (independent of the reader under test).
struct Layout {
    shoff: usize,
    shnum: usize,
    names: Vec<String>,
}

impl Layout {
    fn of(b: &[u8]) -> Layout {
        let shoff = u64_at(b, 0x28) as usize;
        let shnum = u16_at(b, 0x3c) as usize;
        let strndx = u16_at(b, 0x3e) as usize;
        let str_off = u64_at(b, shoff + strndx * 64 + 24) as usize;
        let names = (0..shnum)
            .map(|i| {
                let n = u32_at(b, shoff + i * 64) as usize;
                let s = &b[str_off + n..];
                String::from_utf8_lossy(&s[..s.iter().position(|&c| c == 0).unwrap()]).into_owned()
            })
            .collect();
        Layout { shoff, shnum, names }
    }
    fn shdr(&self, i: usize) -> usize {
        self.shoff + i * 64
    }
    fn index(&self, name: &str) -> usize {
        self.names.iter().position(|n| n == name).unwrap_or_else(|| panic!("no section {name}"))
    }
    fn data(&self, b: &[u8], name: &str) -> (usize, usize) {
        let h = self.shdr(self.index(name));
        (u64_at(b, h + 24) as usize, u64_at(b, h + 32) as usize)
    }
    /// File offset of the first section whose name starts with `prefix`.
    fn first_named(&self, prefix: &str) -> usize {
        self.names.iter().position(|n| n.starts_with(prefix)).unwrap_or_else(|| panic!("no section {prefix}*"))
    }
}

struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expect: Vec<&'static str>,
}

fn cases(good: &[u8]) -> Vec<Case> {
    let l = Layout::of(good);
    let mut v = Vec::new();
    let mut add = |name, f: &dyn Fn(&mut Vec<u8>), expect: Vec<&'static str>| {
        let mut b = good.to_vec();
        f(&mut b);
        v.push(Case { name, bytes: b, expect });
    };
    add("truncated_ident", &|b| b.truncate(10), vec!["truncated", "ELF identification"]);
    add("truncated_header", &|b| b.truncate(40), vec!["truncated", "ELF header", "64 bytes"]);
    add("bad_magic", &|b| b[1] = b'X', vec!["not an ELF file"]);
    add("elfclass32", &|b| b[4] = 1, vec!["ELF class 1 is not ELFCLASS64"]);
    add("big_endian", &|b| b[5] = 2, vec!["data encoding 2 is not little endian"]);
    add("wrong_machine", &|b| put16(b, 0x12, 62), vec!["ELF machine 62 is not EM_BPF"]);
    add("wrong_type", &|b| put16(b, 0x10, 2), vec!["ELF type 2 is not ET_REL"]);
    let len = good.len() as u64;
    add("shoff_past_end", &|b| put64(b, 0x28, len), vec!["truncated", "section header table"]);
    add("shnum_huge", &|b| put16(b, 0x3c, 0xff00), vec!["truncated", "section header table"]);
    add("shstrndx_out_of_range", &|b| put16(b, 0x3e, 200), vec!["e_shstrndx", "section index 200 is out of range"]);
    let text = l.first_named("tracepoint/");
    let th = l.shdr(text);
    add(
        "section_past_end",
        &|b| put64(b, th + 32, 1 << 40),
        vec![&*Box::leak(format!("section #{text}").into_boxed_str()), "past the end of the file"],
    );
    let symtab = l.index(".symtab");
    let (sym_off, sym_size) = l.data(good, ".symtab");
    let nsyms = sym_size / 24;
    // The last symbol is a global (a program or map); damage its section index.
    let last = sym_off + (nsyms - 1) * 24;
    add(
        "symbol_shndx_out_of_range",
        &|b| put16(b, last + 6, 0x7fff),
        vec!["symbol #", "section index 32767 is out of range"],
    );
    let rel = l.first_named(".reltracepoint/");
    let rh = l.shdr(rel);
    let rel_off = u64_at(good, rh + 24) as usize;
    add(
        "reloc_symbol_out_of_range",
        &|b| put64(b, rel_off + 8, (9999u64 << 32) | 1),
        vec!["relocation #0 refers to symbol #9999", "symbol table has"],
    );
    add(
        "reloc_offset_past_end",
        &|b| put64(b, rel_off, 1 << 32),
        vec!["relocation #0 at offset 4294967296 is outside the section"],
    );
    add("reloc_target_section_out_of_range", &|b| put32(b, rh + 44, 999), vec!["sh_info of relocation section", "999"]);
    add("reloc_link_out_of_range", &|b| put32(b, rh + 40, 999), vec!["sh_link of section", "999"]);
    add("symtab_entsize", &|b| put64(b, l.shdr(symtab) + 56, 7), vec!["entry size 7"]);
    // Point the first relocation at the program's first instruction, which is not an lddw.
    let (prog_off, _) = l.data(good, &l.names[text]);
    assert_ne!(good[prog_off], 0x18, "first instruction of the program section is an lddw; pick another case");
    add("reloc_on_non_lddw", &|b| put64(b, rel_off, 0), vec!["insn #0", "neither lddw nor a BPF-to-BPF call"]);
    add(
        "reloc_misaligned",
        &|b| put64(b, rel_off, 4),
        vec!["relocation #0 at byte offset 4 is not on an instruction boundary"],
    );
    let first_info = u64_at(good, rel_off + 8);
    add(
        "reloc_wrong_type",
        &|b| put64(b, rel_off + 8, (first_info & !0xffff_ffff) | 3),
        vec!["type 3 (R_BPF_64_ABS32)", "lddw needs R_BPF_64_64", "insn #"],
    );
    let (btf_off, _) = l.data(good, ".BTF");
    add("btf_bad_magic", &|b| put16(b, btf_off, 0x1234), vec![".BTF: bad magic 0x1234"]);
    add("btf_bad_version", &|b| b[btf_off + 2] = 9, vec![".BTF: unsupported header: version 9"]);
    add("btf_strings_past_end", &|b| put32(b, btf_off + 20, 1 << 30), vec![".BTF: truncated: string section"]);
    let type_len = u32_at(good, btf_off + 12);
    add("btf_type_cut", &|b| put32(b, btf_off + 12, type_len - 2), vec![".BTF: truncated: type ["]);
    add(
        "btf_unknown_kind",
        &|b| {
            let t = btf_off + 24 + u32_at(b, btf_off + 8) as usize;
            let info = u32_at(b, t + 4);
            put32(b, t + 4, (info & !(0x1f << 24)) | (31 << 24));
        },
        vec![".BTF: type [1] has unknown kind 31"],
    );
    add(
        "btf_bad_name_offset",
        &|b| {
            let t = btf_off + 24 + u32_at(b, btf_off + 8) as usize;
            put32(b, t, 0x7fff_ffff);
        },
        vec![".BTF: name of type [1]: string offset 2147483647 is invalid"],
    );
    let (ext_off, _) = l.data(good, ".BTF.ext");
    add("btf_ext_bad_magic", &|b| put16(b, ext_off, 0), vec![".BTF.ext: bad magic 0x0000"]);
    let ext_hdr = u32_at(good, ext_off + 4) as usize;
    let func_info = ext_off + ext_hdr + u32_at(good, ext_off + 8) as usize;
    add("btf_ext_record_size", &|b| put32(b, func_info, 3), vec![".BTF.ext: func_info record size 3 is invalid"]);
    add(
        "btf_ext_section_name",
        &|b| put32(b, func_info + 4, 0x7fff_fff0),
        vec![".BTF.ext: func_info section name: string offset 2147483632 is invalid"],
    );
    add(
        "btf_ext_count_past_end",
        &|b| put32(b, func_info + 8, 1 << 20),
        vec![".BTF.ext: truncated", "func_info records of section"],
    );
    let core = ext_off + ext_hdr + u32_at(good, ext_off + 24) as usize;
    add(
        "core_relo_insn_out_of_range",
        &|b| put32(b, core + 12, 0x10_0000),
        vec!["CO-RE relocation record at byte offset 1048576", "not an instruction of the section"],
    );
    add("core_relo_unknown_kind", &|b| put32(b, core + 24, 77), vec!["insn #", "unknown CO-RE relocation kind 77"]);
    add("core_relo_bad_access", &|b| put32(b, core + 20, 0), vec!["insn #", "invalid access string: empty"]);
    // Find the program's function symbol: the global FUNC symbol of the program section.
    let fsym = (0..nsyms)
        .map(|i| sym_off + i * 24)
        .find(|&s| good[s + 4] == 0x12 && u16_at(good, s + 6) as usize == text)
        .expect("program symbol");
    add("function_past_section_end", &|b| put64(b, fsym + 16, 1 << 20), vec!["function `", "lie outside the section"]);
    add("function_misaligned", &|b| put64(b, fsym + 8, 4), vec!["function `", "are not whole instructions"]);
    add("program_static", &|b| b[fsym + 4] = 0x02, vec!["is static; programs must be global functions"]);
    // The program's last instruction (an exit) becomes the first half of an lddw.
    let (poff, psize) = l.data(good, &l.names[text]);
    add(
        "lddw_missing_second_slot",
        &|b| b[poff + psize - 8] = 0x18,
        vec!["program `", "invalid lddw: missing second slot"],
    );
    add("unknown_opcode", &|b| b[poff + 8] = 0xff, vec!["insn #1", "unknown opcode 0xff"]);
    // Rename the program section to `fentry` (in place, in the section name table).
    let (str_off, _) = l.data(good, ".strtab");
    let name_at = str_off + u32_at(good, th) as usize;
    add(
        "fentry_refused",
        &|b| b[name_at..name_at + 7].copy_from_slice(b"fentry\0"),
        vec!["`fentry` programs", "trampolines"],
    );
    add(
        "license_unterminated",
        &|b| {
            let (o, s) = Layout::of(b).data(b, "license");
            for x in &mut b[o..o + s] {
                *x = b'G';
            }
        },
        vec!["section `license`", "not NUL-terminated"],
    );
    let (btfrel_off, _) = l.data(good, ".rel.BTF.ext");
    let btfrel_info = u64_at(good, btfrel_off + 8);
    add(
        "data_reloc_wrong_type",
        &|b| put64(b, btfrel_off + 8, (btfrel_info & !0xffff_ffff) | 10),
        vec!["section `.BTF.ext`: relocation #0", "type 10 (R_BPF_64_32), not allowed here"],
    );
    let _ = l.shnum;
    v
}

fn check(case: &Case) -> Result<(), Failed> {
    let target = TargetBtf::Parsed(vmlinux());
    let res =
        std::panic::catch_unwind(|| Object::parse(&case.bytes, "bad.o", &LoadOptions { target_btf: target.clone() }));
    let err = match res {
        Err(_) => return Err("the reader panicked".into()),
        Ok(Ok(_)) => return Err("damaged object was accepted".into()),
        Ok(Err(e)) => e.to_string(),
    };
    if std::env::var_os("BPFC_SHOW_ERRORS").is_some() {
        eprintln!("{}: {err}", case.name);
    }
    for want in &case.expect {
        if !err.contains(want) {
            return Err(format!("error does not mention {want:?}:\n  {err}").into());
        }
    }
    if !err.starts_with("bad.o") {
        return Err(format!("error does not name the file: {err}").into());
    }
    Ok(())
}

/// The kernel's BTF, parsed once (an empty BTF where the kernel has none: the CO-RE cases then fail to
/// match, which still exercises every error path before matching).
fn vmlinux() -> Arc<Btf> {
    static BTF: std::sync::OnceLock<Arc<Btf>> = std::sync::OnceLock::new();
    BTF.get_or_init(|| Arc::new(Btf::from_file(Path::new("/sys/kernel/btf/vmlinux")).unwrap_or_default())).clone()
}

fn main() {
    let args = Arguments::from_args();
    let good_path = root().join("examples/syscount.bpf.o");
    let good = std::fs::read(&good_path).expect("examples/syscount.bpf.o");
    Object::parse(&good, "good.o", &LoadOptions::default()).expect("the undamaged object reads");
    let all = cases(&good);
    if std::env::var_os("BPFC_WRITE_ELF_BAD").is_some() {
        let dir = root().join("testsuite/elf-bad");
        std::fs::create_dir_all(&dir).unwrap();
        for c in &all {
            std::fs::write(dir.join(format!("{}.o", c.name)), &c.bytes).unwrap();
        }
    }
    let mut trials: Vec<Trial> = all.into_iter().map(|c| Trial::test(c.name, move || check(&c))).collect();
    let crashers = root().join("testsuite/elf-bad/crashers");
    if let Ok(d) = std::fs::read_dir(&crashers) {
        for e in d.flatten() {
            let p = e.path();
            trials.push(Trial::test(format!("crasher::{}", name_of(&p)), move || {
                let b = std::fs::read(&p).map_err(|e| e.to_string())?;
                std::panic::catch_unwind(|| {
                    let _ =
                        Object::parse(&b, "crasher.o", &LoadOptions { target_btf: TargetBtf::Parsed(Arc::default()) });
                })
                .map_err(|_| Failed::from("the reader panicked"))
            }));
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
