//! `bpfc info FILE.o`: what a clang BPF object contains once read and linked as libbpf would — programs
//! (type, attach target, instruction count, CO-RE relocations applied), maps (type, key/value size,
//! max_entries, flags, initial slots), global data, license, BTF summary.

use bpfc_compiler::elf::{InitRef, LoadOptions, MapKind, Object, TargetBtf};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// `writeln!` into the output buffer (formatting into a String cannot fail).
macro_rules! outln {
    ($o:ident, $($t:tt)*) => {{
        let _ = writeln!($o, $($t)*);
    }};
}

/// Arguments of `bpfc info`.
#[derive(clap::Args)]
pub struct Args {
    /// A clang BPF object.
    file: PathBuf,
    /// BTF to resolve CO-RE relocations against (default /sys/kernel/btf/vmlinux).
    #[arg(long)]
    btf: Option<PathBuf>,
}

/// Kernel names of `enum bpf_map_type` (as bpftool prints them).
fn map_type_name(t: u32) -> &'static str {
    const NAMES: [&str; 34] = [
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
    NAMES.get(t as usize).copied().unwrap_or("unknown")
}

/// Prints the summary.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let opts = LoadOptions { target_btf: args.btf.map_or(TargetBtf::Vmlinux, TargetBtf::File) };
    let obj = Object::load(&args.file, &opts)?;
    let mut o = String::new();
    outln!(o, "object {} ({})", obj.name, obj.file);
    outln!(o, "license: {:?}", obj.license);
    if let Some(v) = obj.kern_version {
        outln!(o, "kernel version: {v:#x}");
    }
    outln!(o, "programs: {}", obj.programs.len());
    for p in &obj.programs {
        let subs: Vec<&str> = p.functions.iter().skip(1).map(|(n, _)| n.as_str()).collect();
        outln!(
            o,
            "  {:<24} {:<16} {:<40} insns {:>5}  slots {:>5}  co-re {:>3}{}",
            p.name,
            format!("{:?}", p.prog_type),
            p.attach.to_string(),
            p.code.len(),
            p.code.slots(),
            p.core_relos_applied,
            if subs.is_empty() { String::new() } else { format!("  calls {}", subs.join(", ")) }
        );
    }
    if !obj.subprograms.is_empty() {
        outln!(o, "subprograms: {}", obj.subprograms.join(", "));
    }
    let (globals, maps): (Vec<_>, Vec<_>) = obj
        .maps
        .iter()
        .enumerate()
        .partition(|(_, m)| matches!(m.kind, MapKind::Data | MapKind::Rodata | MapKind::Bss));
    outln!(o, "maps: {}", maps.len());
    for (i, m) in maps {
        outln!(
            o,
            "  [{i}] {:<20} {:<16} key {:>4}  value {:>6}  max_entries {:>8}  flags {:#x}{}",
            m.name,
            map_type_name(m.map_type),
            m.key_size,
            m.value_size,
            m.max_entries,
            m.flags,
            if m.pinning != 0 { "  pinned by name" } else { "" }
        );
        if let Some(inner) = &m.inner {
            outln!(
                o,
                "        inner: {} key {} value {} max_entries {}",
                map_type_name(inner.map_type),
                inner.key_size,
                inner.value_size,
                inner.max_entries
            );
        }
        for (slot, r) in &m.init_slots {
            match r {
                InitRef::Map(n) => outln!(o, "        [{slot}] = map {n}"),
                InitRef::Prog(n) => outln!(o, "        [{slot}] = program {n}"),
            }
        }
    }
    outln!(o, "globals: {}", globals.len());
    for (i, m) in globals {
        outln!(
            o,
            "  [{i}] {:<20} section {:<16} {:>6} bytes  flags {:#x}{}",
            m.name,
            m.section,
            m.value_size,
            m.flags,
            if m.readonly_for_programs() { "  (read-only)" } else { "" }
        );
        if let (Some(btf), true) = (&obj.btf, m.btf_value_type_id != 0)
            && let bpfc_compiler::btf::Kind::Datasec { vars, .. } = &btf.ty(m.btf_value_type_id).kind
        {
            for v in vars {
                outln!(o, "        +{:<5} {:>5} bytes  {}", v.offset, v.size, btf.name(v.ty));
            }
        }
    }
    match &obj.btf {
        Some(b) => {
            let (funcs, lines, core) = obj.btf_ext.as_ref().map_or((0, 0, 0), |e| {
                (
                    e.func_info.values().map(Vec::len).sum::<usize>(),
                    e.line_info.values().map(Vec::len).sum::<usize>(),
                    e.core_relo_count(),
                )
            });
            outln!(
                o,
                "btf: {} types, {} string bytes; .BTF.ext: {funcs} func_info, {lines} line_info, {core} CO-RE relocations",
                b.type_count() - 1,
                b.strings_len()
            );
        }
        None => {
            outln!(o, "btf: none");
        }
    }
    // A closed pipe (`bpfc info x.o | head`) is not an error worth a panic.
    let _ = std::io::stdout().write_all(o.as_bytes());
    Ok(ExitCode::SUCCESS)
}
