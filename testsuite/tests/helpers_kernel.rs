//! Helpers against the kernel: the same program runs as a `BPF_PROG_TYPE_SYSCALL` program through
//! `BPF_PROG_TEST_RUN` (maps created with `bpf()`) and on our interpreter (maps in our registry, the
//! Linux helper table); r0 (the 32 bits the kernel reports), the context written back and the final map
//! contents must be equal. Programs store helper results into the context so every return value is
//! compared, errors included.
//!
//! Needs bpf() (root). If it is unusable every case fails with the reason rather than passing.

use std::collections::BTreeMap;

use anyhow::{Context, Result, anyhow, bail, ensure};
use bpfc_runtime::abi::EventMeta;
use bpfc_runtime::bind::{Binding, MapDecl, Runnable, SlotRef};
use bpfc_runtime::exec::Outcome;
use bpfc_runtime::interp::Program as InterpProgram;
use bpfc_runtime::isa::{self, Imm64, Insn, Located};
use bpfc_runtime::maps::{BPF_F_RDONLY_PROG, MapSpec, MapType};
use bpfc_runtime::sys::bpf::{self, MapCreate, MapFd, ProgLoad, TestRun};
use bpfc_testsuite::maprig::{MAP_SENTINEL, MAP_VALUE_SENTINEL, Rig, assemble};
use libtest_mimic::{Arguments, Trial};
use std::os::fd::{AsFd, AsRawFd};

/// A map and its initial (key, value) pairs.
type MapInit = (MapSpec, Vec<(Vec<u8>, Vec<u8>)>);

struct Case {
    name: &'static str,
    maps: Vec<MapInit>,
    asm: String,
    ctx: usize,
}

fn spec(t: MapType, k: u32, v: u32, n: u32) -> MapSpec {
    MapSpec { name: "t".into(), map_type: t as u32, key_size: k, value_size: v, max_entries: n, ..Default::default() }
}

fn map(r: u8, i: u64) -> String {
    format!("lddw %r{r}, {:#x}", MAP_SENTINEL | i)
}

fn map_value(r: u8, i: u64) -> String {
    format!("lddw %r{r}, {:#x}", MAP_VALUE_SENTINEL | i)
}

fn k32(i: u32) -> Vec<u8> {
    i.to_le_bytes().to_vec()
}

/// A NUL-terminated string on the stack at r10-off.
fn stack_str(s: &str, off: i32) -> String {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
    b.chunks(8)
        .enumerate()
        .map(|(i, c)| {
            format!(
                "lddw %r9, {:#x}\nstxdw [%r10{:+}], %r9\n",
                u64::from_le_bytes(c.try_into().unwrap()),
                -off + 8 * i as i32
            )
        })
        .collect()
}

/// Stores r0 at ctx+off (r6 holds ctx).
fn save(off: usize) -> String {
    format!("stxdw [%r6+{off}], %r0\n")
}

fn cases() -> Vec<Case> {
    let m = map(1, 0);
    let upd = |key: u32, val: i32, flags: i32| {
        format!(
            "stw [%r10-4], {key}\nstdw [%r10-16], {val}\n{m}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -16\nmov %r4, {flags}\ncall 2\n"
        )
    };
    let del = |key: u32| format!("stw [%r10-4], {key}\n{m}\nmov %r2, %r10\nadd %r2, -4\ncall 3\n");
    let mut hash_ops = String::from("mov %r6, %r1\n");
    for (i, op) in [
        upd(1, 10, 0),
        upd(1, 11, 1),
        upd(2, 20, 2),
        upd(2, 20, 1),
        upd(3, 30, 0),
        upd(4, 40, 0),
        upd(3, 31, 2),
        upd(5, 50, 3),
        del(9),
        del(1),
        upd(4, 41, 4),
    ]
    .iter()
    .enumerate()
    {
        hash_ops += op;
        hash_ops += &save(8 * i);
    }
    hash_ops += "mov %r0, 0\nexit";

    let q = map(1, 0);
    let push = |v: i32, flags: i32| {
        format!("stdw [%r10-8], {v}\n{q}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, {flags}\ncall 87\n")
    };
    let pop = |id: u32| {
        format!("stdw [%r10-8], 0\n{q}\nmov %r2, %r10\nadd %r2, -8\ncall {id}\nldxdw %r1, [%r10-8]\nadd %r0, %r1\n")
    };
    let mut queue_ops = String::from("mov %r6, %r1\n");
    for (i, op) in
        [push(1, 0), push(2, 0), push(3, 0), push(4, 2), push(5, 1), pop(88), pop(89), pop(88), pop(88), pop(89)]
            .iter()
            .enumerate()
    {
        queue_ops += op;
        queue_ops += &save(8 * i);
    }
    queue_ops += "mov %r0, 0\nexit";

    let rb = map(1, 0);
    let ringbuf = format!(
        "mov %r6, %r1\n\
         stdw [%r10-8], 5\n{rb}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\ncall 130\n{}\
         {rb}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 4\ncall 130\n{}\
         {rb}\nmov %r2, 100\nmov %r3, 0\ncall 131\njeq %r0, 0, fail\nstdw [%r0+0], 1\nmov %r1, %r0\nmov %r2, 0\ncall 133\n\
         {rb}\nmov %r2, 4\nmov %r3, 0\ncall 131\njeq %r0, 0, fail\nstw [%r0+0], 1\nmov %r1, %r0\nmov %r2, 0\ncall 132\n\
         {rb}\nmov %r2, 0\ncall 134\n{}{rb}\nmov %r2, 1\ncall 134\n{}{rb}\nmov %r2, 3\ncall 134\n{}\
         {rb}\nmov %r2, 8192\nmov %r3, 0\ncall 131\njeq %r0, 0, ok\nmov %r1, %r0\nmov %r2, 0\ncall 133\nmov %r0, 2\nexit\n\
         ok:\nmov %r0, 0\nexit\nfail:\nmov %r0, 1\nexit",
        save(0),
        save(8),
        save(16),
        save(24),
        save(32)
    );

    let mut fmt2 = b"%d %llx %s %c|%5u|%-4d|".to_vec();
    fmt2.resize(32, 0);
    let args = "stdw [%r10-64], -42\nlddw %r1, 0xdeadbeef12\nstxdw [%r10-56], %r1\nmov %r1, %r10\nadd %r1, -8\nstxdw [%r10-48], %r1\n\
                stdw [%r10-40], 0x41\nstdw [%r10-32], 7\nstdw [%r10-24], -3\n";
    let copy = |from: i32, to: usize, words: usize| -> String {
        (0..words)
            .map(|w| format!("ldxdw %r1, [%r10{:+}]\nstxdw [%r6+{}], %r1\n", from + 8 * w as i32, to + 8 * w))
            .collect()
    };
    let zero = |from: i32, words: usize| -> String {
        (0..words).map(|w| format!("stdw [%r10{:+}], 0\n", from + 8 * w as i32)).collect()
    };
    let snprintf = format!(
        "mov %r6, %r1\n{}{args}{}mov %r1, %r10\nadd %r1, -128\nmov %r2, 64\n{}\nmov %r4, %r10\nadd %r4, -64\nmov %r5, 48\ncall 165\n{}{}\
         {}mov %r1, %r10\nadd %r1, -128\nmov %r2, 6\n{}\nmov %r4, %r10\nadd %r4, -64\nmov %r5, 48\ncall 165\n{}{}\
         mov %r1, 0\nmov %r2, 0\n{}\nmov %r4, %r10\nadd %r4, -64\nmov %r5, 48\ncall 165\nexit",
        stack_str("hi", 8),
        zero(-128, 8),
        map_value(3, 3),
        save(64),
        copy(-128, 0, 8),
        zero(-128, 8),
        map_value(3, 3),
        save(80),
        copy(-128, 72, 1),
        map_value(3, 3),
    );

    let strto = |s: &str, flags: i32, id: u32, off: usize| {
        format!(
            "{}stdw [%r10-40], 7\nmov %r1, %r10\nadd %r1, -32\nmov %r2, {}\nmov %r3, {flags}\nmov %r4, %r10\nadd %r4, -40\ncall {id}\n{}\
             ldxdw %r1, [%r10-40]\nstxdw [%r6+{}], %r1\n",
            stack_str(s, 32),
            s.len().max(1),
            save(off),
            off + 8
        )
    };
    let mut strings = String::from("mov %r6, %r1\n");
    for (i, (s, flags, id)) in [
        ("  -0x1fz", 0, 105),
        ("0777", 0, 105),
        ("0777", 10, 105),
        ("-12", 10, 106),
        ("99999999999999999999", 10, 106),
        ("9223372036854775808", 10, 105),
        ("-9223372036854775808", 10, 105),
        ("xyz", 16, 105),
        ("ff", 16, 106),
        ("12", 7, 105),
    ]
    .iter()
    .enumerate()
    {
        strings += &strto(s, *flags, *id, 16 * i);
    }
    for (i, s) in ["abc", "abd", "ab", "abcd"].iter().enumerate() {
        strings += &format!(
            "{}mov %r1, %r10\nadd %r1, -32\nmov %r2, {}\n{}\ncall 182\n{}",
            stack_str(s, 32),
            s.len() + 1,
            map_value(3, 1),
            save(160 + 8 * i)
        );
    }
    strings += "mov %r0, 0\nexit";

    let mut printk = String::from("mov %r6, %r1\n");
    for (i, (fmt, a1, a2)) in [
        ("x=%d y=%u\n", "-5", "-5"),
        ("%llx|%5d|%-3d|%%\n", "0x7fffffff", "42"),
        ("%c%c\n", "0x41", "0x42"),
        ("%d %d %d %d\n", "1", "2"),
        ("bad %q\n", "1", "2"),
        ("%s\n", "0", "0"),
    ]
    .iter()
    .enumerate()
    {
        printk += &format!(
            "{}mov %r1, %r10\nadd %r1, -32\nmov %r2, {}\nmov %r3, {a1}\nmov %r4, {a2}\nmov %r5, 0\ncall 6\n{}",
            stack_str(fmt, 32),
            fmt.len() + 1,
            save(8 * i)
        );
    }
    printk += "mov %r0, 0\nexit";
    let rdonly = |v: u32| MapSpec { flags: BPF_F_RDONLY_PROG, ..spec(MapType::Array, 4, v, 1) };
    let mut fmt_val = fmt2.clone();
    fmt_val.resize(32, 0);
    let mut abc = b"abc".to_vec();
    abc.resize(8, 0);
    // Failed probe reads: what the kernel's nofault copies answer for addresses nothing can read — NULL, a
    // low user address, the guard page at TASK_SIZE_MAX, a non-canonical address — through every read
    // helper, and that the destination is zeroed. (`bpfc test`'s kernel column points unrecorded memory at
    // a non-canonical address and relies on these answers agreeing.)
    let mut probes = String::from("mov %r6, %r1\n");
    let addrs: [u64; 4] = [0, 0xbad, 0x7fff_ffff_f000, 0xdead_0000_0000_0000];
    let mut slot = 0;
    for helper in [4, 45, 112, 113, 114, 115] {
        for addr in addrs {
            probes += &format!(
                "lddw %r1, 0x1111111111111111\nstxdw [%r10-16], %r1\nmov %r1, %r10\nadd %r1, -16\nmov %r2, 8\n\
                 lddw %r3, {addr:#x}\ncall {helper}\n{}ldxdw %r1, [%r10-16]\nstxdw [%r6+{}], %r1\n",
                save(16 * slot),
                16 * slot + 8
            );
            slot += 1;
        }
    }
    probes += "mov %r0, 0\nexit";
    let probes_ctx = 16 * slot;
    vec![
        Case {
            name: "hash_update_delete_errnos",
            maps: vec![(spec(MapType::Hash, 4, 8, 3), vec![])],
            asm: hash_ops.clone(),
            ctx: 96,
        },
        Case {
            name: "lru_hash_update_delete_errnos",
            maps: vec![(spec(MapType::LruHash, 4, 8, 16), vec![])],
            asm: hash_ops.clone(),
            ctx: 96,
        },
        Case {
            name: "array_update_errnos",
            maps: vec![(spec(MapType::Array, 4, 8, 3), vec![(k32(0), 5u64.to_le_bytes().to_vec())])],
            asm: hash_ops.clone(),
            ctx: 96,
        },
        Case {
            name: "queue_push_pop_peek",
            maps: vec![(spec(MapType::Queue, 0, 8, 3), vec![])],
            asm: queue_ops.clone(),
            ctx: 80,
        },
        Case {
            name: "stack_push_pop_peek",
            maps: vec![(spec(MapType::Stack, 0, 8, 3), vec![])],
            asm: queue_ops,
            ctx: 80,
        },
        Case {
            name: "ringbuf_output_reserve_query",
            maps: vec![(spec(MapType::RingBuf, 0, 0, 4096), vec![])],
            asm: ringbuf,
            ctx: 40,
        },
        Case {
            name: "snprintf_formats_and_truncates",
            maps: vec![
                (spec(MapType::Array, 4, 8, 1), vec![]),
                (spec(MapType::Array, 4, 8, 1), vec![]),
                (spec(MapType::Array, 4, 8, 1), vec![]),
                (rdonly(32), vec![(k32(0), fmt_val)]),
            ],
            asm: snprintf,
            ctx: 96,
        },
        Case { name: "trace_printk_return_values", maps: vec![], asm: printk, ctx: 48 },
        Case { name: "probe_read_unreadable_addresses", maps: vec![], asm: probes, ctx: probes_ctx },
        Case {
            name: "strtol_strtoul_strncmp",
            maps: vec![
                (spec(MapType::Array, 4, 8, 1), vec![]),
                (spec(MapType::Array, 4, 8, 1), vec![]),
                (spec(MapType::Array, 4, 8, 1), vec![]),
                (rdonly(8), vec![(k32(0), b"%d\0\0\0\0\0\0".to_vec())]),
                (rdonly(8), vec![(k32(0), abc)]),
            ],
            asm: strings.replace(&map_value(3, 1), &map_value(3, 4)),
            ctx: 200,
        },
    ]
}

fn kernel_map(s: &MapSpec) -> Result<MapFd> {
    bpf::map_create(&MapCreate {
        map_type: s.map_type,
        key_size: s.key_size,
        value_size: s.value_size,
        max_entries: s.max_entries,
        flags: s.flags,
        name: "oracle",
        ..MapCreate::default()
    })
    .map_err(|e| anyhow!("kernel map {s:?}: {e}"))
}

/// Final contents: key → value for keyed maps, pop order for queues/stacks (empty for ringbufs).
fn contents(
    keyless: bool,
    mut next: impl FnMut(Option<&[u8]>) -> Option<Vec<u8>>,
    mut get: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    if keyless {
        let mut i = 0u32;
        while let Some(v) = get(&[]) {
            out.insert(i.to_be_bytes().to_vec(), v);
            i += 1;
        }
        return out;
    }
    let mut cur: Option<Vec<u8>> = None;
    while let Some(k) = next(cur.as_deref()) {
        if let Some(v) = get(&k) {
            out.insert(k.clone(), v);
        }
        cur = Some(k);
        if out.len() > 10_000 {
            break;
        }
    }
    out
}

/// `code` encoded with its map-index references turned into the fds of `kmaps` (by index).
fn with_kernel_fds(code: &isa::Code, kmaps: &[MapFd]) -> Vec<u8> {
    let fd = |i: i32| kmaps[i as usize].as_fd().as_raw_fd();
    let insns: Vec<Located> = code
        .insns()
        .iter()
        .map(|l| {
            let insn = match l.insn {
                Insn::LdImm64 { dst, imm: Imm64::MapIdx(i) } => Insn::LdImm64 { dst, imm: Imm64::MapFd(fd(i)) },
                Insn::LdImm64 { dst, imm: Imm64::MapIdxValue { idx, off } } => {
                    Insn::LdImm64 { dst, imm: Imm64::MapValue { fd: fd(idx), off } }
                }
                other => other,
            };
            Located { pc: l.pc, insn }
        })
        .collect();
    isa::encode(&insns)
}

fn run_case(c: &Case) -> Result<()> {
    // Ours.
    let rig = Rig::new(c.maps.iter().map(|(s, _)| s.clone()).collect())?;
    for (i, (_, init)) in c.maps.iter().enumerate() {
        for (k, v) in init {
            rig.maps().update(rig.fds[i], k, v, 0)?;
        }
    }
    let code = assemble(&c.asm)?;
    let mut our_ctx = vec![0u8; c.ctx];
    let ours = match rig.run(&code, &mut our_ctx, EventMeta::default()) {
        Outcome::Exit(v) => v,
        other => bail!("our run did not exit: {other:?}"),
    };
    // The kernel's.
    let kmaps: Vec<MapFd> = c.maps.iter().map(|(s, _)| kernel_map(s)).collect::<Result<_>>()?;
    for (i, (s, init)) in c.maps.iter().enumerate() {
        for (k, v) in init {
            bpf::map_update(&kmaps[i], k, v, 0).map_err(|e| anyhow!("kernel init: {e}"))?;
        }
        if s.flags & BPF_F_RDONLY_PROG != 0 {
            bpf::map_freeze(&kmaps[i]).map_err(|e| anyhow!("freeze: {e}"))?;
        }
    }
    let bytes = with_kernel_fds(&code, &kmaps);
    let prog = bpf::prog_load(&ProgLoad {
        prog_type: bpf::BPF_PROG_TYPE_SYSCALL,
        insns: &bytes,
        license: "GPL",
        flags: bpf::BPF_F_SLEEPABLE,
        prog_name: "bpfc_helpers",
        ..ProgLoad::default()
    })
    .map_err(|e| anyhow!("the kernel refused the program: {}", e.reason()))?;
    let ctx_in = vec![0u8; c.ctx];
    let run = bpf::prog_test_run(prog.as_fd(), &TestRun { ctx_in: &ctx_in, ..TestRun::default() })
        .context("BPF_PROG_TEST_RUN")?;
    ensure!(run.retval == ours as u32, "r0: kernel {}, ours {}", run.retval as i32, ours as i64);
    if run.ctx_in_after != our_ctx {
        let diff: Vec<String> = run
            .ctx_in_after
            .chunks(8)
            .zip(our_ctx.chunks(8))
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("ctx+{}: kernel {:?} ours {:?}", 8 * i, a, b))
            .collect();
        bail!("context differs:\n{}", diff.join("\n"));
    }
    for (i, (s, _)) in c.maps.iter().enumerate() {
        if s.map_type == MapType::RingBuf as u32 {
            continue;
        }
        let keyless = s.key_size == 0;
        let k = contents(
            keyless,
            |key| bpf::map_get_next_key(&kmaps[i], key).ok(),
            |key| {
                if keyless {
                    bpf::map_lookup_and_delete(&kmaps[i], key).ok()
                } else {
                    bpf::map_lookup(&kmaps[i], key, 0).ok()
                }
            },
        );
        let fd = rig.fds[i];
        let o = contents(
            keyless,
            |key| rig.maps().get_next_key(fd, key).ok(),
            |key| {
                if keyless { rig.maps().lookup_and_delete(fd, key).ok() } else { rig.maps().lookup(fd, key).ok() }
            },
        );
        ensure!(k == o, "map {i} differs:\nkernel {k:?}\nours   {o:?}");
    }
    Ok(())
}

/// A raw tracepoint program that counts its runs in an array value, tries a tail call into an empty
/// slot, then into itself. Whether the failed attempt counts against the chain's limit of 33 differs
/// between kernels (older JITs and the interpreter charged every in-range attempt; since the x86-64
/// "tailcall hierarchy" rework the count grows only when the slot holds a program), so the kernel here is
/// the oracle: 17 runs if empty slots count, 34 if not. Our dispatcher (`Binding::run`) must agree.
fn tail_call_limit_with_empty_slots() -> Result<()> {
    let (jump, runs) = (map(2, 0), map_value(1, 1));
    let asm = format!(
        "mov %r6, %r1\n{runs}\nldxdw %r2, [%r1]\nadd %r2, 1\nstxdw [%r1], %r2\n\
         mov %r1, %r6\n{jump}\nmov %r3, 1\ncall 12\n\
         mov %r1, %r6\n{jump}\nmov %r3, 0\ncall 12\n\
         mov %r0, 0\nexit"
    );
    let code = assemble(&asm)?;
    // Ours, through the runtime's dispatcher.
    let decl = |name: &str, map_type: MapType, slots| MapDecl {
        name: name.into(),
        map_type: map_type as u32,
        key_size: 4,
        value_size: if map_type == MapType::Array { 8 } else { 4 },
        // Direct value access (`lddw` of a map value) needs a one-element array.
        max_entries: if map_type == MapType::Array { 1 } else { 2 },
        slots,
        ..MapDecl::default()
    };
    let binding = Binding::new(&[
        decl("jump", MapType::ProgArray, vec![(0, SlotRef::Prog(0))]),
        decl("runs", MapType::Array, vec![]),
    ])
    .map_err(|e| anyhow!("binding: {e}"))?;
    let prog = InterpProgram::new(&code).map_err(|e| anyhow!("{e}"))?;
    let report = binding.run(&[Runnable::Interp(&prog)], 0, &mut [0u8; 8], EventMeta::default(), false);
    ensure!(report.outcome == Outcome::Exit(0), "our chain ended with {:?}", report.outcome);
    let ours = binding.map(1).context("map 1")?.lookup(&k32(0)).map_err(|e| anyhow!("{e}"))?;
    // The kernel's.
    let kmaps = [kernel_map(&spec(MapType::ProgArray, 4, 4, 2))?, kernel_map(&spec(MapType::Array, 4, 8, 1))?];
    let prog = bpf::prog_load(&ProgLoad {
        prog_type: bpf::BPF_PROG_TYPE_RAW_TRACEPOINT,
        insns: &with_kernel_fds(&code, &kmaps),
        license: "GPL",
        prog_name: "bpfc_tailcall",
        ..ProgLoad::default()
    })
    .map_err(|e| anyhow!("the kernel refused the program: {}", e.reason()))?;
    bpf::map_update(&kmaps[0], &k32(0), &(prog.as_fd().as_raw_fd() as u32).to_le_bytes(), 0)
        .map_err(|e| anyhow!("filling the program array: {e}"))?;
    let run = bpf::prog_test_run(prog.as_fd(), &TestRun { ctx_in: &[0u8; 8], ..TestRun::default() })
        .context("BPF_PROG_TEST_RUN")?;
    ensure!(run.retval == 0, "kernel r0 {}", run.retval);
    let theirs = bpf::map_lookup(&kmaps[1], &k32(0), 0).map_err(|e| anyhow!("{e}"))?;
    let n = |v: &[u8]| u64::from_le_bytes(v[..8].try_into().unwrap());
    ensure!(
        n(&theirs) == n(&ours) && report.chain.len() as u64 == n(&ours),
        "runs: kernel {}, ours {} (chain of {})",
        n(&theirs),
        n(&ours),
        report.chain.len()
    );
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trials = match bpf::kernel_bpf_available() {
        Ok(()) => cases()
            .into_iter()
            .map(|c| {
                Trial::test(format!("kernel::{}", c.name), move || run_case(&c).map_err(|e| format!("{e:#}").into()))
            })
            .chain([Trial::test("kernel::tail_call_limit_with_empty_slots", || {
                tail_call_limit_with_empty_slots().map_err(|e| format!("{e:#}").into())
            })])
            .collect(),
        Err(why) => {
            eprintln!("SKIP-IS-FAILURE: kernel bpf() unusable: {why}");
            vec![Trial::test("kernel_bpf_available", move || Err(why.clone().into()))]
        }
    };
    libtest_mimic::run(&args, trials).exit();
}
