//! Oracle tests of the ELF reader and linker against the real tools, on every example object and on our
//! own test objects (testsuite/elf-progs, compiled with clang-19 at test time). Three trials per object:
//!
//! - `objdump::OBJ` — our listing of every executable section *before linking*
//!   (`elf::listing::sections`) equals `llvm-objdump-19 -d --mattr=+alu32 --no-show-raw-insn OBJ`.
//!   Normalisation, applied to both: keep only `Disassembly of section` headers, function labels
//!   (`0000000000000000 <name>:`) and instruction lines; drop the `<sym+0xoff>` suffix llvm-objdump adds
//!   to jump targets (we print the relative offset only); drop the file header and blank lines.
//! - `maps::OBJ` — `bpftool prog loadall OBJ DIR pinmaps MAPDIR` loads the object with libbpf and pins
//!   every map under its libbpf name (dots become `_` in pin names); `bpftool -j map show pinned MAPDIR/NAME` then gives what the kernel
//!   holds. Type, key/value size, max_entries, flags and the (15-byte) kernel name must equal ours, and
//!   the set of pinned maps must equal our map list. Everything is unpinned afterwards.
//! - `libbpf::OBJ` — our linked instructions equal the ones libbpf hands the kernel. Method: `bpftool prog
//!   dump xlated` shows the program after the *kernel's* rewrites (helper calls turned into addresses,
//!   map lookups inlined, bpf_loop inlined, map fds into map pointers), which would need a model of the
//!   verifier's fixups to compare; instead a small C program (testsuite/oracle/libbpf_dump.c, linked with
//!   the system libbpf) opens and *loads* the object — so CO-RE runs against the same kernel BTF — and
//!   prints `bpf_program__insns()`, i.e. exactly the instructions passed to `BPF_PROG_LOAD`, plus each
//!   map's fd. We replace libbpf's `src=BPF_PSEUDO_MAP_FD, imm=fd` by `src=BPF_PSEUDO_MAP_IDX, imm=index`
//!   and `BPF_PSEUDO_MAP_VALUE` by `BPF_PSEUDO_MAP_IDX_VALUE` (index of the map with that fd in libbpf's
//!   map order) and then require byte equality of every program, in libbpf's program order.
//!
//! Trials skip loudly (marked ignored, reason printed) only when a tool or facility is missing.

mod elf_common;

use bpfc_compiler::elf::{LoadOptions, Object, listing};
use elf_common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn normalize_objdump(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with("Disassembly of section ") {
            out.push(line.to_string());
            continue;
        }
        let is_label = line.len() > 18
            && line.as_bytes()[16] == b' '
            && line.ends_with(">:")
            && line[..16].bytes().all(|b| b.is_ascii_hexdigit());
        if is_label {
            out.push(line.to_string());
            continue;
        }
        let Some((pc, rest)) = line.split_once(":\t") else { continue };
        if pc.trim().is_empty() || !pc.trim().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let mut text = rest.to_string();
        if text.ends_with('>')
            && let Some(i) = text.rfind(" <")
        {
            text.truncate(i);
        }
        out.push(format!("{}: {}", pc.trim(), text.trim()));
    }
    out
}

fn objdump(obj: &Path) -> Result<(), Failed> {
    let theirs = run(Command::new("llvm-objdump-19").args(["-d", "--mattr=+alu32", "--no-show-raw-insn"]).arg(obj))?;
    let bytes = std::fs::read(obj).map_err(|e| e.to_string())?;
    let ours = listing::sections(&bytes, &obj.display().to_string()).map_err(|e| e.to_string())?;
    let (t, o) = (normalize_objdump(&theirs), normalize_objdump(&ours));
    if t.is_empty() {
        return Err("llvm-objdump printed no instructions".into());
    }
    for (i, (a, b)) in t.iter().zip(&o).enumerate() {
        if a != b {
            return Err(format!("line {i} differs:\n  llvm-objdump: {a}\n  bpfc:         {b}").into());
        }
    }
    if t.len() != o.len() {
        return Err(format!("llvm-objdump has {} lines, bpfc {}", t.len(), o.len()).into());
    }
    Ok(())
}

/// bpftool's names of `enum bpf_map_type` (libbpf's `libbpf_bpf_map_type_str`).
const MAP_TYPES: [&str; 34] = [
    "unspec",
    "hash",
    "array",
    "prog_array",
    "perf_event_array",
    "percpu_hash",
    "percpu_array",
    "stack_trace",
    "cgroup_array",
    "lru_hash",
    "lru_percpu_hash",
    "lpm_trie",
    "array_of_maps",
    "hash_of_maps",
    "devmap",
    "sockmap",
    "cpumap",
    "xskmap",
    "sockhash",
    "cgroup_storage",
    "reuseport_sockarray",
    "percpu_cgroup_storage",
    "queue",
    "stack",
    "sk_storage",
    "devmap_hash",
    "struct_ops",
    "ringbuf",
    "inode_storage",
    "task_storage",
    "bloom_filter",
    "user_ringbuf",
    "cgrp_storage",
    "arena",
];

/// Removes a bpffs directory tree on drop (unpinning everything under it).
struct Unpin(PathBuf);

impl Drop for Unpin {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn load_ours(obj: &Path) -> Result<Object, Failed> {
    Object::load(obj, &LoadOptions::default()).map_err(|e| format!("bpfc: {e}").into())
}

fn maps(obj: &Path, seq: usize) -> Result<(), Failed> {
    let ours = load_ours(obj)?;
    let dir = PathBuf::from(format!("/sys/fs/bpf/bpfc_elf_oracle_{}_{seq}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let _guard = Unpin(dir.clone());
    let (progs, mapdir) = (dir.join("progs"), dir.join("maps"));
    run(Command::new("bpftool").args(["prog", "loadall"]).arg(obj).arg(&progs).arg("pinmaps").arg(&mapdir))?;
    let mut pinned: Vec<String> = std::fs::read_dir(&mapdir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    pinned.sort();
    // libbpf pins a map under its name with `.` replaced by `_` (`bpf_object__pin_maps`).
    let pin_name = |n: &str| n.replace('.', "_");
    let mut names: Vec<String> = ours.maps.iter().map(|m| pin_name(&m.name)).collect();
    names.sort();
    if pinned != names {
        return Err(format!("libbpf created maps {pinned:?}, bpfc has {names:?}").into());
    }
    let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    for m in &ours.maps {
        let json =
            run(Command::new("bpftool").args(["-j", "map", "show", "pinned"]).arg(mapdir.join(pin_name(&m.name))))?;
        let v: serde_json::Value = serde_json::from_str(&json).map_err(|e| format!("bpftool json: {e}"))?;
        let want_type = MAP_TYPES.get(m.map_type as usize).copied().unwrap_or("?");
        // libbpf sizes a perf_event_array with max_entries 0 to the number of possible CPUs.
        let want_max = if m.map_type == 4 && m.max_entries == 0 { ncpu } else { u64::from(m.max_entries) };
        let checks: [(&str, serde_json::Value); 6] = [
            ("type", want_type.into()),
            ("name", m.kernel_name().into()),
            ("bytes_key", m.key_size.into()),
            ("bytes_value", m.value_size.into()),
            ("max_entries", want_max.into()),
            ("flags", m.flags.into()),
        ];
        for (field, want) in checks {
            if v[field] != want {
                return Err(format!("map `{}`: {field}: kernel says {}, bpfc says {want}", m.name, v[field]).into());
            }
        }
    }
    Ok(())
}

struct Dump {
    /// fd → map index.
    fds: HashMap<i32, i32>,
    /// (name, instruction bytes).
    progs: Vec<(String, Vec<u8>)>,
}

fn libbpf_dump(tool: &Path, obj: &Path) -> Result<Dump, String> {
    let out = run(Command::new(tool).arg(obj))?;
    let mut d = Dump { fds: HashMap::new(), progs: Vec::new() };
    for line in out.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        match f[0] {
            "map" => {
                d.fds.insert(f[2].parse().map_err(|_| line.to_string())?, f[1].parse().map_err(|_| line.to_string())?);
            }
            "prog" => d.progs.push((f[1].to_string(), Vec::new())),
            hex => {
                let p = d.progs.last_mut().ok_or("instruction before prog")?;
                for i in 0..8 {
                    p.1.push(u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| line.to_string())?);
                }
            }
        }
    }
    Ok(d)
}

/// Rewrites libbpf's fd-based map references into the index form bpfc produces.
fn fds_to_indices(code: &mut [u8], fds: &HashMap<i32, i32>) -> Result<(), String> {
    let mut i = 0;
    while i + 8 <= code.len() {
        if code[i] == 0x18 && i + 16 <= code.len() {
            let src = code[i + 1] >> 4;
            if src == 1 || src == 2 {
                let fd = i32::from_le_bytes(code[i + 4..i + 8].try_into().unwrap());
                let idx = *fds.get(&fd).ok_or(format!("slot {}: fd {fd} is no map of the object", i / 8))?;
                code[i + 1] = (code[i + 1] & 0x0f) | ((src + 4) << 4);
                code[i + 4..i + 8].copy_from_slice(&idx.to_le_bytes());
            }
            i += 16;
        } else {
            i += 8;
        }
    }
    Ok(())
}

fn libbpf(tool: &Path, obj: &Path) -> Result<(), Failed> {
    let ours = load_ours(obj)?;
    let theirs = libbpf_dump(tool, obj)?;
    let names: Vec<&str> = theirs.progs.iter().map(|p| p.0.as_str()).collect();
    let our_names: Vec<&str> = ours.programs.iter().map(|p| p.name.as_str()).collect();
    if names != our_names {
        return Err(format!("libbpf programs {names:?}, bpfc {our_names:?}").into());
    }
    for ((name, code), p) in theirs.progs.iter().zip(&ours.programs) {
        let mut code = code.clone();
        fds_to_indices(&mut code, &theirs.fds)?;
        let mine = p.code.to_bytes();
        if code == mine {
            continue;
        }
        let slot =
            code.chunks(8).zip(mine.chunks(8)).position(|(a, b)| a != b).unwrap_or(code.len().min(mine.len()) / 8);
        let show = |b: &[u8]| b.get(slot * 8..slot * 8 + 8).map_or("<end>".to_string(), |s| format!("{s:02x?}"));
        let line = p.line_at(slot).map(|l| format!(" ({}:{}: {})", l.file, l.line, l.text.trim())).unwrap_or_default();
        return Err(format!(
            "program `{name}`: {} vs {} slots; first difference at slot {slot}{line}:\n  libbpf: {}\n  bpfc:   {}\n  bpfc listing:\n{}",
            code.len() / 8,
            mine.len() / 8,
            show(&code),
            show(&mine),
            listing::program(&ours, p)
        )
        .into());
    }
    Ok(())
}

fn build_dump_tool() -> Result<PathBuf, String> {
    if !Path::new("/usr/include/bpf/libbpf.h").exists() {
        return Err("libbpf-dev (/usr/include/bpf/libbpf.h) not installed".into());
    }
    let out = tmp("elf-oracle").join("libbpf_dump");
    run(Command::new("cc")
        .args(["-O1", "-Wall", "-o"])
        .arg(&out)
        .arg(root().join("testsuite/oracle/libbpf_dump.c"))
        .arg("-lbpf"))?;
    Ok(out)
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).is_ok_and(|s| s.trim() == "0")
}

fn main() {
    let args = Arguments::from_args();
    let mut objs = example_objects();
    let mut trials = Vec::new();
    if have("clang-19") {
        match own_objects(&tmp("elf-progs")) {
            Ok(v) => objs.extend(v),
            Err(e) => trials.push(Trial::test("build::elf-progs", move || Err(e.clone().into()))),
        }
    } else {
        eprintln!("SKIP (own test objects): clang-19 not found, testsuite/elf-progs not built");
    }
    let objdump_missing = (!have("llvm-objdump-19")).then_some("llvm-objdump-19 not found");
    let kernel_missing = if !is_root() {
        Some("not root: cannot load BPF programs".to_string())
    } else if !Path::new("/sys/fs/bpf").is_dir() || std::fs::read_dir("/sys/fs/bpf").is_err() {
        Some("/sys/fs/bpf (bpffs) not mounted".to_string())
    } else if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        Some("/sys/kernel/btf/vmlinux absent".to_string())
    } else {
        None
    };
    let bpftool_missing =
        kernel_missing.clone().or_else(|| (!have("bpftool")).then(|| "bpftool not found".to_string()));
    let tool = match &kernel_missing {
        Some(e) => Err(e.clone()),
        None => build_dump_tool(),
    };
    for (what, missing) in [
        ("objdump", objdump_missing.map(str::to_string)),
        ("maps", bpftool_missing.clone()),
        ("libbpf", tool.as_ref().err().cloned()),
    ] {
        if let Some(m) = missing {
            eprintln!("SKIP ({what}:: trials): {m}");
        }
    }
    for (seq, obj) in objs.into_iter().enumerate() {
        let name = name_of(&obj);
        let o = obj.clone();
        trials.push(
            Trial::test(format!("objdump::{name}"), move || objdump(&o)).with_ignored_flag(objdump_missing.is_some()),
        );
        let o = obj.clone();
        trials.push(
            Trial::test(format!("maps::{name}"), move || maps(&o, seq)).with_ignored_flag(bpftool_missing.is_some()),
        );
        let t = tool.clone();
        trials.push(
            Trial::test(format!("libbpf::{name}"), move || libbpf(t.as_ref().map_err(|e| e.clone())?, &obj))
                .with_ignored_flag(tool.is_err()),
        );
    }
    libtest_mimic::run(&args, trials).exit();
}
