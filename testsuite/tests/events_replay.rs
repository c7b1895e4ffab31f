//! The replay format (runtime::events::replay): the bundled replay files of every context kind parse into
//! the exact ctx bytes the kernel's layouts prescribe (expected values written out by hand from the tracefs
//! `format` files in examples/events/formats and the x86_64 `struct pt_regs`), bad lines give errors that
//! name the line and the key, and write → parse reproduces every event byte for byte.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bpfc_runtime::abi::EventMeta;
use bpfc_runtime::events::replay::{parse_str, to_line};
use bpfc_runtime::events::{Event, EventSource, MemorySource, ProbeKind, TpFormats, comm_str};
use libtest_mimic::{Arguments, Failed, Trial};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join("events")
}

fn formats() -> TpFormats {
    TpFormats::dirs([examples().join("formats")], false)
}

fn load(name: &str) -> Result<Vec<Event>, Failed> {
    let path = examples().join(name);
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(parse_str(&text, name, &formats()).map_err(|e| e.to_string())?)
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes(b[off..off + 2].try_into().unwrap())
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(what().into()) }
}

fn read_mem(ev: &Event, addr: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    let n = ev.memory.read(addr, &mut b);
    b.truncate(n);
    b
}

fn meta_is_workload(ev: &Event, i: usize, comm: &str) -> Result<(), Failed> {
    let m: &EventMeta = &ev.meta;
    check(m.pid == 4242 && m.tid == 4242 && m.uid == 0 && m.cpu == 0, || format!("event {i}: meta {m:?}"))?;
    check(m.time_ns == 1_000_000_000 + i as u64 * 1000, || format!("event {i}: time {}", m.time_ns))?;
    check(comm_str(m) == comm, || format!("event {i}: comm {:?}", comm_str(m)))
}

/// raw_syscalls:sys_enter (format ID 443): id @8 (long), args[6] @16; fixed part 64 bytes, padded to 68.
fn syscalls() -> Result<(), Failed> {
    let evs = load("syscalls.jsonl")?;
    let ids = [39u64, 110, 110, 102, 102, 102, 104, 104, 104, 104, 231];
    check(evs.len() == ids.len(), || format!("{} events", evs.len()))?;
    for (i, (ev, id)) in evs.iter().zip(ids).enumerate() {
        meta_is_workload(ev, i, "workload")?;
        check(ev.source.to_string() == "tracepoint/raw_syscalls/sys_enter", || ev.source.to_string())?;
        check(ev.source.matches_section("tracepoint/raw_syscalls/sys_enter"), || "section".into())?;
        check(ev.ctx.len() == 68, || format!("ctx len {}", ev.ctx.len()))?;
        check(u16_at(&ev.ctx, 0) == 443 && u32_at(&ev.ctx, 4) == 4242, || format!("common {:?}", &ev.ctx[..8]))?;
        check(ev.ctx[2] == 0 && ev.ctx[3] == 0, || "flags".into())?;
        check(u64_at(&ev.ctx, 8) == id, || format!("event {i}: id {}", u64_at(&ev.ctx, 8)))?;
        check(ev.ctx[16..].iter().all(|&b| b == 0), || "args".into())?;
    }
    Ok(())
}

/// syscalls:sys_enter_openat (ID 782): __syscall_nr @8 (4), dfd @16, filename @24, flags @32, mode @40 (8 each).
fn open() -> Result<(), Failed> {
    let evs = load("open.jsonl")?;
    check(evs.len() == 6, || format!("{} events", evs.len()))?;
    let names: [(u64, &[u8]); 3] =
        [(0x402004, b"/dev/null\0"), (0x402010, b"/nonexistent/bpfc-example\0"), (0x402004, b"/dev/null\0")];
    let flags = [0u64, 0, 0x80001];
    let rets = [3u64, (-2i64) as u64, 4];
    for k in 0..3 {
        let (e, x) = (&evs[2 * k], &evs[2 * k + 1]);
        check(e.ctx.len() == 52 && x.ctx.len() == 28, || format!("lens {} {}", e.ctx.len(), x.ctx.len()))?;
        check(u16_at(&e.ctx, 0) == 782 && u16_at(&x.ctx, 0) == 781, || "common_type".into())?;
        check(u32_at(&e.ctx, 8) == 257, || "nr".into())?;
        check(u64_at(&e.ctx, 16) == 0xffff_ffff_ffff_ff9c, || format!("dfd {:#x}", u64_at(&e.ctx, 16)))?;
        check(u64_at(&e.ctx, 24) == names[k].0, || "filename".into())?;
        check(u64_at(&e.ctx, 32) == flags[k], || "flags".into())?;
        check(read_mem(e, names[k].0, 64) == names[k].1, || format!("memory {:?}", read_mem(e, names[k].0, 64)))?;
        check(read_mem(e, names[k].0 - 1, 4).is_empty(), || "read before the blob".into())?;
        check(u64_at(&x.ctx, 16) == rets[k], || format!("ret {:#x}", u64_at(&x.ctx, 16)))?;
        check(read_mem(x, names[k].0, 4).is_empty(), || "exit event has no memory".into())?;
    }
    Ok(())
}

/// sched:sched_process_exec (ID 365): __data_loc filename @8, pid @12, old_pid @16; data after the fixed 20
/// bytes, descriptor = 20 | len << 16, padded to len % 8 == 4.
fn exec() -> Result<(), Failed> {
    let evs = load("exec.jsonl")?;
    check(evs.len() == 2, || format!("{} events", evs.len()))?;
    for (ev, (comm, name)) in evs.iter().zip([("env", &b"/usr/bin/env\0"[..]), ("true", b"/bin/true\0")]) {
        check(comm_str(&ev.meta) == comm, || comm_str(&ev.meta))?;
        let d = u32_at(&ev.ctx, 8);
        check(d == 20 | (name.len() as u32) << 16, || format!("descriptor {d:#x}"))?;
        check(&ev.ctx[20..20 + name.len()] == name, || format!("data {:?}", &ev.ctx[20..]))?;
        check(u32_at(&ev.ctx, 12) == 4242 && u32_at(&ev.ctx, 16) == 4242, || "pids".into())?;
        let want = (20 + name.len() + 4).div_ceil(8) * 8 - 4;
        check(ev.ctx.len() == want && ev.ctx.len() % 8 == 4, || format!("len {} want {want}", ev.ctx.len()))?;
    }
    Ok(())
}

/// syscalls:sys_enter_write (ID 840): count @32.
fn write() -> Result<(), Failed> {
    let evs = load("write.jsonl")?;
    let sizes = [0u64, 1, 15, 16, 200, 256, 1000, 4096, 5000];
    check(evs.len() == 9, || format!("{} events", evs.len()))?;
    for (ev, n) in evs.iter().zip(sizes) {
        check(u16_at(&ev.ctx, 0) == 840 && u64_at(&ev.ctx, 16) == 3 && u64_at(&ev.ctx, 24) == 0x4c6000, || {
            "fields".into()
        })?;
        check(u64_at(&ev.ctx, 32) == n, || format!("count {}", u64_at(&ev.ctx, 32)))?;
    }
    Ok(())
}

/// x86_64 pt_regs: 168 bytes; di @112, si @104, dx @96, ax @80, ip @128, sp @152.
fn kprobe() -> Result<(), Failed> {
    let evs = load("kprobe_openat2.jsonl")?;
    check(evs.len() == 6, || format!("{} events", evs.len()))?;
    for (k, pair) in evs.chunks(2).enumerate() {
        let (e, x) = (&pair[0], &pair[1]);
        check(e.source.matches_section("kprobe/do_sys_openat2"), || e.source.to_string())?;
        check(!e.source.matches_section("kretprobe/do_sys_openat2"), || e.source.to_string())?;
        check(x.source.matches_section("kretprobe/do_sys_openat2"), || x.source.to_string())?;
        check(e.ctx.len() == 168 && x.ctx.len() == 168, || "len".into())?;
        check(u64_at(&e.ctx, 112) == (-100i64) as u64, || "di".into())?;
        check(u64_at(&e.ctx, 96) == 0xffffc90000a3fe80, || "dx".into())?;
        check(u64_at(&e.ctx, 128) == 0xffffffff81456780, || "ip".into())?;
        let how = read_mem(e, 0xffffc90000a3fe80, 24);
        let flags = [0u64, 0, 0x80001][k];
        check(how.len() == 24 && u64_at(&how, 0) == flags, || format!("open_how {how:?}"))?;
        check(u64_at(&x.ctx, 80) == [3u64, (-2i64) as u64, 4][k], || format!("ax {:#x}", u64_at(&x.ctx, 80)))?;
        let nonzero: usize = (0..21).filter(|r| u64_at(&x.ctx, r * 8) != 0).count();
        check(nonzero == 3, || format!("{nonzero} registers set on the return"))?;
    }
    Ok(())
}

fn uprobe() -> Result<(), Failed> {
    let evs = load("uprobe_compute.jsonl")?;
    check(evs.len() == 20, || format!("{} events", evs.len()))?;
    for (i, pair) in evs.chunks(2).enumerate() {
        let a = i as i64 + 1;
        let b = 2 * a - 11;
        let (e, x) = (&pair[0], &pair[1]);
        check(
            matches!(&*e.source, EventSource::Probe { attach: Some((ProbeKind::Uprobe, t)), .. } if t == "uprobe_target:compute"),
            || e.source.to_string(),
        )?;
        check(x.source.matches_section("uretprobe/./uprobe_target:compute"), || x.source.to_string())?;
        check(u64_at(&e.ctx, 112) == a as u64, || "di".into())?;
        check(u64_at(&e.ctx, 104) == u64::from(b as i32 as u32), || format!("si {:#x}", u64_at(&e.ctx, 104)))?;
        check(u64_at(&x.ctx, 80) as u32 as i32 == (a * b - a + 7) as i32, || "ax".into())?;
        check(comm_str(&e.meta) == "uprobe_target", || comm_str(&e.meta))?;
    }
    Ok(())
}

/// raw_tp/sys_enter: args = [struct pt_regs *, id]; the pt_regs blob has orig_ax @120 and dx @96.
fn raw_tp() -> Result<(), Failed> {
    let evs = load("raw_tp_write.jsonl")?;
    check(evs.len() == 23, || format!("{} events", evs.len()))?;
    let mut writes = 0;
    let mut bytes = 0;
    for ev in &evs {
        check(ev.ctx.len() == 16, || format!("len {}", ev.ctx.len()))?;
        check(u64_at(&ev.ctx, 0) == 0xffffc90000a3ff58, || "args[0]".into())?;
        let regs = read_mem(ev, 0xffffc90000a3ff58, 168);
        check(regs.len() == 168, || format!("pt_regs blob is {} bytes", regs.len()))?;
        if ev.source.matches_section("raw_tp/sys_enter") {
            check(u64_at(&regs, 120) == u64_at(&ev.ctx, 8), || "orig_ax == id".into())?;
            if u64_at(&ev.ctx, 8) == 1 {
                writes += 1;
                bytes += u64_at(&regs, 96);
            }
        } else {
            check(ev.source.matches_section("raw_tracepoint/sys_exit"), || ev.source.to_string())?;
        }
    }
    check(writes == 9 && bytes == 10584, || format!("{writes} writes, {bytes} bytes"))
}

/// Syscall program contexts: the bytes as given, for `SEC("syscall")` programs only.
fn syscall_ctx() -> Result<(), Failed> {
    let evs = load("syscall_add.jsonl")?;
    check(evs.len() == 3, || format!("{} events", evs.len()))?;
    for ev in &evs {
        check(ev.ctx.len() == 40, || format!("len {}", ev.ctx.len()))?;
        check(ev.source.matches_section("syscall"), || ev.source.to_string())?;
        check(!ev.source.matches_section("raw_tp/syscall"), || "matched raw_tp/syscall".into())?;
    }
    check(evs[1].ctx[..8] == [7, 0, 0, 0, 3, 0, 0, 0], || format!("{:?}", &evs[1].ctx[..8]))?;
    check(u64_at(&evs[1].ctx, 16) == 0xffffc90000a3ff58, || "ptr".into())?;
    let empty = parse_str(r#"{"ctx":""}"#, "f", &formats()).map_err(|e| e.to_string())?;
    check(empty[0].ctx.is_empty(), || "empty ctx".into())
}

/// aarch64 (x0 @0, sp @248, pc @256, 336 bytes) and riscv64 (pc @0, a0 @80, a1 @88, 288 bytes) pt_regs.
fn other_arch_regs() -> Result<(), Failed> {
    let text = r#"{"uprobe":"t:f","arch":"aarch64","regs":{"x0":7,"x1":-1,"sp":"0x7ff0","pc":"0x400100","orig_x0":7}}
{"kretprobe":"f","arch":"riscv64","regs":{"pc":"0x10","a0":5,"a1":6,"ra":"0x20","orig_a0":9}}"#;
    let evs = parse_str(text, "arch", &formats()).map_err(|e| e.to_string())?;
    let (a, r) = (&evs[0], &evs[1]);
    check(a.ctx.len() == 336 && r.ctx.len() == 288, || format!("{} {}", a.ctx.len(), r.ctx.len()))?;
    check(u64_at(&a.ctx, 0) == 7 && u64_at(&a.ctx, 8) == u64::MAX, || "x0 x1".into())?;
    check(u64_at(&a.ctx, 248) == 0x7ff0 && u64_at(&a.ctx, 256) == 0x400100 && u64_at(&a.ctx, 272) == 7, || {
        "sp pc orig_x0".into()
    })?;
    check(u64_at(&r.ctx, 0) == 0x10 && u64_at(&r.ctx, 8) == 0x20, || "pc ra".into())?;
    check(u64_at(&r.ctx, 80) == 5 && u64_at(&r.ctx, 88) == 6 && u64_at(&r.ctx, 280) == 9, || "a0 a1 orig_a0".into())?;
    let again: String = evs.iter().map(|e| to_line(e, &[]) + "\n").collect();
    let back = parse_str(&again, "w", &formats()).map_err(|e| e.to_string())?;
    check(back[0].ctx == a.ctx && back[1].ctx == r.ctx, || again.clone())
}

/// Every event of every bundled file, written and parsed again, has the same source, meta, ctx and memory.
fn round_trip(name: &'static str) -> impl FnOnce() -> Result<(), Failed> {
    move || {
        let evs = load(name)?;
        let text: String = evs.iter().map(|e| to_line(e, &e.memory.blobs()) + "\n").collect();
        let again = parse_str(&text, "written", &formats()).map_err(|e| format!("{e}\n{text}"))?;
        check(again.len() == evs.len(), || "count".into())?;
        for (i, (a, b)) in evs.iter().zip(&again).enumerate() {
            check(a.source == b.source && a.meta == b.meta, || format!("event {i}: {a:?} vs {b:?}"))?;
            check(a.ctx == b.ctx, || format!("event {i}: ctx {:?} vs {:?}", a.ctx, b.ctx))?;
            check(a.memory.blobs() == b.memory.blobs(), || format!("event {i}: memory"))?;
        }
        Ok(())
    }
}

/// A record the fields cannot express (stale bytes in the padding between `__syscall_nr` and `dfd`, as a
/// live record may carry) is written with `record` and comes back byte for byte.
fn round_trip_padding() -> Result<(), Failed> {
    let evs = load("open.jsonl")?;
    let mut ev = evs[0].clone();
    ev.ctx[12..16].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    ev.ctx[2] = 1; // common_flags
    let line = to_line(&ev, &[]);
    check(line.contains("\"record\":\"") && line.contains("\"common_flags\":1"), || line.clone())?;
    let again = parse_str(&line, "written", &formats()).map_err(|e| e.to_string())?;
    check(again[0].ctx == ev.ctx, || format!("{:?} vs {:?}", again[0].ctx, ev.ctx))?;
    let plain = to_line(&evs[0], &[]);
    check(!plain.contains("\"record\""), || plain.clone())
}

const OPEN: &str = r#""tracepoint":"syscalls:sys_enter_openat""#;

/// (name, line-2 text, substrings the error must contain)
fn error_cases() -> Vec<(&'static str, String, Vec<&'static str>)> {
    let ok = format!("{{\"pid\":1,{OPEN},\"fields\":{{}}}}");
    let mut v: Vec<(&'static str, String, Vec<&'static str>)> = vec![
        ("not_json", "{\"pid\":1,".into(), vec!["f.jsonl:2:", "not a JSON object"]),
        ("not_object", "[1,2]".into(), vec!["f.jsonl:2:", "JSON object"]),
        ("unknown_key", format!("{{\"pidd\":1,{OPEN}}}"), vec!["f.jsonl:2:", "`pidd`", "unknown key"]),
        ("no_context", "{\"pid\":1}".into(), vec!["f.jsonl:2:", "exactly one context"]),
        ("two_contexts", format!("{{{OPEN},\"regs\":{{}}}}"), vec!["f.jsonl:2:", "exactly one context"]),
        (
            "unknown_field",
            format!("{{{OPEN},\"fields\":{{\"fname\":1}}}}"),
            vec!["f.jsonl:2:", "no field `fname`", "filename"],
        ),
        (
            "field_too_big",
            format!("{{{OPEN},\"fields\":{{\"__syscall_nr\":4294967296}}}}"),
            vec!["f.jsonl:2:", "`__syscall_nr`", "does not fit in 32 bits"],
        ),
        (
            "field_not_int",
            format!("{{{OPEN},\"fields\":{{\"flags\":\"lots\"}}}}"),
            vec!["f.jsonl:2:", "`flags`", "not an integer"],
        ),
        (
            "char_array_too_long",
            r#"{"tracepoint":"sched:sched_wakeup","fields":{"comm":"a-very-long-command"}}"#.into(),
            vec!["f.jsonl:2:", "`comm`", "does not fit in char[16]"],
        ),
        (
            "array_too_long",
            r#"{"tracepoint":"raw_syscalls:sys_enter","fields":{"args":[1,2,3,4,5,6,7]}}"#.into(),
            vec!["f.jsonl:2:", "`args`", "7 elements given for an array of 6"],
        ),
        (
            "unknown_tracepoint",
            r#"{"tracepoint":"nosuch:event","fields":{}}"#.into(),
            vec!["f.jsonl:2:", "no format for tracepoint `nosuch:event`"],
        ),
        ("bad_tracepoint_name", r#"{"tracepoint":"justone","fields":{}}"#.into(), vec!["f.jsonl:2:", "CATEGORY:NAME"]),
        (
            "comm_too_long",
            format!("{{\"comm\":\"sixteen-chars-xx\",{OPEN}}}"),
            vec!["f.jsonl:2:", "`comm`", "15 bytes"],
        ),
        ("pid_negative_too_big", format!("{{\"pid\":-3000000000,{OPEN}}}"), vec!["f.jsonl:2:", "`pid`", "32 bits"]),
        (
            "unknown_register",
            r#"{"kprobe":"f","regs":{"xyz":1}}"#.into(),
            vec!["f.jsonl:2:", "no register `xyz` in x86_64 pt_regs", "di"],
        ),
        (
            "aarch64_register_on_x86",
            r#"{"kprobe":"f","arch":"x86_64","regs":{"x0":1}}"#.into(),
            vec!["f.jsonl:2:", "no register `x0`"],
        ),
        ("bad_arch", r#"{"kprobe":"f","arch":"mips","regs":{}}"#.into(), vec!["f.jsonl:2:", "`arch`"]),
        ("uprobe_without_symbol", r#"{"uprobe":"compute","regs":{}}"#.into(), vec!["f.jsonl:2:", "PATH:SYMBOL"]),
        ("two_probes", r#"{"uprobe":"a:b","kprobe":"f","regs":{}}"#.into(), vec!["f.jsonl:2:", "more than one probe"]),
        (
            "fields_on_regs_line",
            r#"{"kprobe":"f","regs":{},"fields":{}}"#.into(),
            vec!["f.jsonl:2:", "`fields`", "not allowed"],
        ),
        ("raw_tp_without_name", r#"{"raw_tp_args":[1]}"#.into(), vec!["f.jsonl:2:", "`raw_tp`"]),
        (
            "raw_tp_too_many",
            r#"{"raw_tp":"x","raw_tp_args":[1,2,3,4,5,6,7,8,9,10,11,12,13]}"#.into(),
            vec!["f.jsonl:2:", "13 arguments; at most 12"],
        ),
        ("ctx_not_hex", r#"{"ctx":"0x01"}"#.into(), vec!["f.jsonl:2:", "`ctx`", "not hex"]),
        ("ctx_not_string", r#"{"ctx":[1,2]}"#.into(), vec!["f.jsonl:2:", "`ctx`", "hex string"]),
        (
            "ctx_too_long",
            format!("{{\"ctx\":\"{}\"}}", "00".repeat(65536)),
            vec!["f.jsonl:2:", "`ctx`", "65536 bytes; at most 65535"],
        ),
        (
            "ctx_with_raw_tp_args",
            r#"{"ctx":"00","raw_tp":"x","raw_tp_args":[1]}"#.into(),
            vec!["f.jsonl:2:", "exactly one context", "`ctx`"],
        ),
        ("ctx_with_regs", r#"{"ctx":"00","regs":{}}"#.into(), vec!["f.jsonl:2:", "exactly one context"]),
        (
            "memory_overlap",
            format!("{{{OPEN},\"memory\":[{{\"addr\":16,\"string\":\"abc\"}},{{\"addr\":18,\"bytes\":\"00\"}}]}}"),
            vec!["f.jsonl:2:", "`memory[1]`", "overlaps"],
        ),
        (
            "memory_bad_hex",
            format!("{{{OPEN},\"memory\":[{{\"addr\":16,\"bytes\":\"0g\"}}]}}"),
            vec!["f.jsonl:2:", "`memory[0]`", "not hex"],
        ),
        (
            "memory_no_addr",
            format!("{{{OPEN},\"memory\":[{{\"string\":\"x\"}}]}}"),
            vec!["f.jsonl:2:", "`memory[0]`", "no `addr`"],
        ),
    ];
    for (_, l, _) in &mut v {
        *l = format!("{ok}\n{l}\n");
    }
    v
}

fn error_case(text: String, want: Vec<&'static str>) -> impl FnOnce() -> Result<(), Failed> {
    move || match parse_str(&text, "f.jsonl", &formats()) {
        Ok(evs) => Err(format!("accepted ({} events): {text}", evs.len()).into()),
        Err(e) => {
            let msg = e.to_string();
            for w in &want {
                check(msg.contains(w), || format!("message `{msg}` lacks `{w}`"))?;
            }
            Ok(())
        }
    }
}

/// Blank lines and `#` comments are skipped but still counted for line numbers; tid defaults to pid.
fn comments_and_defaults() -> Result<(), Failed> {
    let text = format!("# c\n\n{{\"pid\":9,{OPEN}}}\n{{\"pid\":9,{OPEN},\"fields\":{{\"nope\":1}}}}\n");
    let err = parse_str(&text, "f", &formats()).err().ok_or("accepted")?.to_string();
    check(err.starts_with("f:4:"), || err.clone())?;
    let evs = parse_str(&format!("{{\"pid\":9,{OPEN}}}"), "f", &formats()).map_err(|e| e.to_string())?;
    check(evs[0].meta.tid == 9 && evs[0].line == Some(1), || format!("{:?}", evs[0]))?;
    // No time given: a fixed one from the line (1e9 + 1 µs × line), never 0 ("the clock at run time").
    check(evs[0].meta.time_ns == 1_000_001_000, || format!("time_ns {}", evs[0].meta.time_ns))?;
    let mem: Arc<dyn MemorySource> = evs[0].memory.clone();
    check(mem.blobs().is_empty(), || "memory".into())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("parse/tracepoint_raw_syscalls", syscalls),
        Trial::test("parse/tracepoint_openat_with_memory", open),
        Trial::test("parse/tracepoint_data_loc", exec),
        Trial::test("parse/tracepoint_write", write),
        Trial::test("parse/kprobe_pt_regs", kprobe),
        Trial::test("parse/uprobe_pt_regs", uprobe),
        Trial::test("parse/raw_tp_args", raw_tp),
        Trial::test("parse/syscall_ctx", syscall_ctx),
        Trial::test("parse/comments_and_defaults", comments_and_defaults),
        Trial::test("parse/aarch64_riscv64_pt_regs", other_arch_regs),
        Trial::test("round_trip/padding_kept_in_record", round_trip_padding),
    ];
    for f in [
        "syscalls.jsonl",
        "open.jsonl",
        "exec.jsonl",
        "write.jsonl",
        "kprobe_openat2.jsonl",
        "uprobe_compute.jsonl",
        "raw_tp_write.jsonl",
        "syscall_add.jsonl",
    ] {
        trials.push(Trial::test(format!("round_trip/{f}"), round_trip(f)));
    }
    for (name, text, want) in error_cases() {
        trials.push(Trial::test(format!("error/{name}"), error_case(text, want)));
    }
    libtest_mimic::run(&args, trials).exit();
}
