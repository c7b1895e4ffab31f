//! The Linux helpers run from BPF programs on the reference interpreter, one named case per behaviour:
//! map helpers (with kernel errnos), queue/stack, ring buffer and perf output as a consumer sees them,
//! trace_printk/snprintf formatting, the event-based task helpers, probe_read sources and faults,
//! strtol/strncmp, tail calls, map-in-map, spin locks, and the callback helpers through a callback hook.
//! Expected values are written by hand from the kernel's documented behaviour.

use anyhow::{Result, bail, ensure};
use bpfc_runtime::abi::{EventMeta, TrapCode};
use bpfc_runtime::exec::{HelperCtx, Outcome};
use bpfc_runtime::helpers::{MemBlob, Stacks};
use bpfc_runtime::maps::{BPF_F_NO_PREALLOC, MapSpec, MapType, RingRecord};
use bpfc_testsuite::maprig::{MAP_SENTINEL, MAP_VALUE_SENTINEL, Rig, assemble};
use libtest_mimic::{Arguments, Trial};

fn spec(t: MapType, k: u32, v: u32, n: u32) -> MapSpec {
    MapSpec { name: "t".into(), map_type: t as u32, key_size: k, value_size: v, max_entries: n, ..Default::default() }
}

/// `lddw %rR, <map I>`.
fn map(r: u8, i: u64) -> String {
    format!("lddw %r{r}, {:#x}", MAP_SENTINEL | i)
}

/// `lddw %rR, <value of map I>`.
fn map_value(r: u8, i: u64) -> String {
    format!("lddw %r{r}, {:#x}", MAP_VALUE_SENTINEL | i)
}

fn event() -> EventMeta {
    let mut comm = [0u8; 16];
    comm[..4].copy_from_slice(b"bash");
    EventMeta { tid: 1234, pid: 1200, uid: 1000, gid: 100, cpu: 1, _pad: 0, time_ns: 5_000_000_123, comm }
}

fn run(rig: &Rig, asm: &str) -> Result<(Outcome, Vec<u8>)> {
    run_ctx(rig, asm, vec![0; 64])
}

fn run_ctx(rig: &Rig, asm: &str, mut ctx: Vec<u8>) -> Result<(Outcome, Vec<u8>)> {
    let code = assemble(asm)?;
    let out = rig.run(&code, &mut ctx, event());
    Ok((out, ctx))
}

fn exit(o: Outcome) -> Result<i64> {
    match o {
        Outcome::Exit(v) => Ok(v as i64),
        other => bail!("expected a normal exit, got {other:?}"),
    }
}

fn k32(i: u32) -> Vec<u8> {
    i.to_le_bytes().to_vec()
}

/// Key 1 → 10 with update, then lookup and an atomic add through the value pointer.
fn hash_update_lookup_atomic() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Hash, 4, 8, 4)])?;
    let asm = format!(
        "stw [%r10-4], 1\nstdw [%r10-16], 10\n{}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -16\nmov %r4, 0\ncall 2\n\
         jne %r0, 0, fail\n{}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, fail\nmov %r1, 5\nlock add [%r0+0], %r1\n\
         ldxdw %r0, [%r0+0]\nexit\nfail:\nmov %r0, -1\nexit",
        map(1, 0),
        map(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 15, "r0 = {o:?}");
    ensure!(rig.maps().lookup(rig.fds[0], &k32(1))? == 15u64.to_le_bytes(), "host sees the atomic add");
    Ok(())
}

/// Update flags and delete report the kernel's errnos to the program.
fn hash_errnos() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Hash, 4, 8, 1)])?;
    rig.maps().update(rig.fds[0], &k32(1), &[0; 8], 0)?;
    let call = |key: u32, flags: i32, helper: u32| {
        format!(
            "stw [%r10-4], {key}\nstdw [%r10-16], 0\n{}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -16\nmov %r4, {flags}\ncall {helper}\nexit",
            map(1, 0)
        )
    };
    for (key, flags, helper, want, what) in [
        (1, 1, 2, -17, "NOEXIST on an existing key: -EEXIST"),
        (2, 2, 2, -2, "EXIST on a missing key: -ENOENT"),
        (2, 0, 2, -7, "full map: -E2BIG"),
        (1, 3, 2, -22, "bad flags: -EINVAL"),
        (2, 0, 3, -2, "delete of a missing key: -ENOENT"),
        (1, 0, 3, 0, "delete"),
    ] {
        let (o, _) = run(&rig, &call(key, flags, helper))?;
        ensure!(exit(o)? == want, "{what}: got {o:?}");
    }
    Ok(())
}

/// Array lookups past the end give NULL; `lddw map_value` sees what the host wrote.
fn array_bounds_and_direct_value() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Array, 4, 8, 2)])?;
    rig.maps().update(rig.fds[0], &k32(0), &77u64.to_le_bytes(), 0)?;
    let asm = format!(
        "stw [%r10-4], 2\n{}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njne %r0, 0, fail\n{}\nldxdw %r0, [%r1+0]\nexit\nfail:\nmov %r0, -1\nexit",
        map(1, 0),
        map_value(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 77, "got {o:?}");
    Ok(())
}

/// A per-CPU array updated from a program changes only the event CPU's slot.
fn percpu_array_uses_event_cpu() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::PercpuArray, 4, 8, 1)])?;
    let asm = format!(
        "stw [%r10-4], 0\n{}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, fail\nstdw [%r0+0], 99\nmov %r0, 0\nexit\nfail:\nmov %r0, -1\nexit",
        map(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 0, "got {o:?}");
    let v = rig.maps().lookup(rig.fds[0], &k32(0))?;
    let ncpus = rig.maps().ncpus() as usize;
    let slot = event().cpu as usize % ncpus;
    for c in 0..ncpus {
        let want = if c == slot { 99u64 } else { 0 };
        ensure!(v[c * 8..c * 8 + 8] == want.to_le_bytes(), "cpu {c}: {:?}", &v[c * 8..c * 8 + 8]);
    }
    Ok(())
}

/// push ×3 into a 2-entry queue (the third fails), pop, peek, pop, pop of empty.
fn queue_push_pop_peek() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Queue, 0, 8, 2)])?;
    let push = |v: i32, flags: i32| {
        format!(
            "stdw [%r10-8], {v}\n{}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, {flags}\ncall 87\nstxdw [%r6+{}], %r0\n",
            map(1, 0),
            8 * (v - 1)
        )
    };
    let pop = |helper: u32, slot: i32| {
        format!(
            "{}\nmov %r2, %r10\nadd %r2, -8\nstdw [%r10-8], 0\ncall {helper}\nstxdw [%r6+{}], %r0\nldxdw %r1, [%r10-8]\nstxdw [%r6+{}], %r1\n",
            map(1, 0),
            slot,
            slot + 8
        )
    };
    let asm = format!(
        "mov %r6, %r1\n{}{}{}{}{}{}{}mov %r0, 0\nexit",
        push(1, 0),
        push(2, 0),
        push(3, 0),
        pop(88, 24),
        pop(89, 40),
        pop(88, 56),
        pop(88, 24 + 48)
    );
    let (o, ctx) = run_ctx(&rig, &asm, vec![0; 128])?;
    ensure!(exit(o)? == 0, "got {o:?}");
    let q = |i: usize| i64::from_le_bytes(ctx[i * 8..i * 8 + 8].try_into().unwrap());
    let got: Vec<i64> = (0..11).map(q).collect();
    // push results 0, 0, -E2BIG; pop → (0, 1); peek → (0, 2); pop → (0, 2); pop of empty → (-ENOENT, 0).
    ensure!(got == [0, 0, -7, 0, 1, 0, 2, 0, 2, -2, 0], "{got:?}");
    Ok(())
}

/// reserve + submit, reserve + discard, output, query: the consumer sees the two records in order.
fn ringbuf_reserve_submit_output_query() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::RingBuf, 0, 0, 4096)])?;
    let asm = format!(
        "{m}\nmov %r2, 16\nmov %r3, 0\ncall 131\njeq %r0, 0, fail\nstdw [%r0+0], 7\nstdw [%r0+8], 8\nmov %r1, %r0\nmov %r2, 0\ncall 132\n\
         {m}\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, fail\nmov %r1, %r0\nmov %r2, 0\ncall 133\n\
         stdw [%r10-8], 9\n{m}\nmov %r2, %r10\nadd %r2, -8\nmov %r3, 8\nmov %r4, 0\ncall 130\njne %r0, 0, fail\n\
         {m}\nmov %r2, 5000\nmov %r3, 0\ncall 131\njne %r0, 0, fail\n\
         {m}\nmov %r2, 0\ncall 134\nexit\nfail:\nmov %r0, -1\nexit",
        m = map(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 24 + 16 + 16, "available data after 3 records (discarded included): {o:?}");
    let recs: Vec<RingRecord> = rig.host.drain_ringbufs().into_iter().map(|(_, r)| r).collect();
    let mut first = 7u64.to_le_bytes().to_vec();
    first.extend_from_slice(&8u64.to_le_bytes());
    ensure!(recs == [RingRecord { data: first }, RingRecord { data: 9u64.to_le_bytes().to_vec() }], "{recs:?}");
    Ok(())
}

/// perf_event_output: -ENOENT before the consumer opens the slots, then delivered to the event CPU's slot.
fn perf_event_output_current_cpu() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::PerfEventArray, 4, 4, 4)])?;
    let asm = format!(
        "stdw [%r10-8], 42\n{}\nlddw %r3, 0xffffffff\nmov %r4, %r10\nadd %r4, -8\nmov %r5, 8\ncall 25\nexit",
        map(2, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == -2, "unopened slot: {o:?}");
    rig.maps().get(rig.fds[0])?.perf_events().unwrap().open_all();
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 0, "{o:?}");
    let (samples, lost) = rig.host.drain_perf();
    ensure!(lost == 0 && samples.len() == 1, "{samples:?}");
    ensure!(samples[0].1.cpu == 1 && samples[0].1.data == 42u64.to_le_bytes(), "{samples:?}");
    Ok(())
}

/// Puts a NUL-terminated string on the stack at r10-off (8-byte chunks).
fn stack_str(s: &str, off: i32) -> String {
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    while !b.len().is_multiple_of(8) {
        b.push(0);
    }
    let mut out = String::new();
    for (i, c) in b.chunks(8).enumerate() {
        out += &format!(
            "lddw %r9, {:#x}\nstxdw [%r10{:+}], %r9\n",
            u64::from_le_bytes(c.try_into().unwrap()),
            -off + 8 * i as i32
        );
    }
    out
}

/// trace_printk formats with the kernel's rules and returns the length; a bad format is -EINVAL.
fn trace_printk_formats() -> Result<()> {
    let rig = Rig::new(vec![])?;
    let asm = format!(
        "{}{}mov %r1, %r10\nadd %r1, -64\nmov %r2, 24\nmov %r3, -5\nmov %r4, %r10\nadd %r4, -32\nmov %r5, 255\ncall 6\nexit",
        stack_str("n=%d s=%s x=%04x\n", 64),
        stack_str("world", 32)
    );
    let (o, _) = run(&rig, &asm)?;
    let want = "n=-5 s=world x=00ff\n";
    ensure!(exit(o)? == want.len() as i64, "{o:?}");
    let lines = rig.host.take_trace();
    ensure!(lines.len() == 1 && lines[0].msg == want && lines[0].event.tid == 1234, "{lines:?}");
    let bad = format!("{}mov %r1, %r10\nadd %r1, -64\nmov %r2, 8\ncall 6\nexit", stack_str("%d %d %d %d", 64));
    let (o, _) = run(&rig, &bad)?;
    ensure!(exit(o)? == -22, "four conversions for three arguments: {o:?}");
    let unterminated = format!("{}mov %r1, %r10\nadd %r1, -64\nmov %r2, 4\ncall 6\nexit", stack_str("abcdefg", 64));
    let (o, _) = run(&rig, &unterminated)?;
    ensure!(exit(o)? == -22, "format without NUL in fmt_size: {o:?}");
    Ok(())
}

/// snprintf into a 8-byte buffer: truncated with a NUL, returns the full length + 1; the format is a
/// constant string in a map value.
fn snprintf_truncates() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Array, 4, 16, 1)])?;
    let mut fmt = b"v=%llu!".to_vec();
    fmt.resize(16, 0);
    rig.maps().update(rig.fds[0], &k32(0), &fmt, 0)?;
    let asm = format!(
        "mov %r6, %r1\nstdw [%r10-16], 123456789\nmov %r1, %r6\nmov %r2, 8\n{}\nmov %r4, %r10\nadd %r4, -16\nmov %r5, 8\ncall 165\nexit",
        map_value(3, 0)
    );
    let (o, ctx) = run(&rig, &asm)?;
    ensure!(exit(o)? == "v=123456789!".len() as i64 + 1, "{o:?}");
    ensure!(&ctx[..8] == b"v=12345\0", "{:?}", &ctx[..8]);
    Ok(())
}

/// pid/tgid, uid/gid, cpu, comm and the clocks come from the event.
fn task_helpers_answer_from_event() -> Result<()> {
    let rig = Rig::new(vec![])?;
    let asm = "mov %r6, %r1\ncall 14\nstxdw [%r6+0], %r0\ncall 15\nstxdw [%r6+8], %r0\ncall 8\nstxdw [%r6+16], %r0\n\
               mov %r1, %r6\nadd %r1, 24\nmov %r2, 3\ncall 16\ncall 5\nstxdw [%r6+32], %r0\ncall 125\nstxdw [%r6+40], %r0\n\
               call 160\nstxdw [%r6+48], %r0\ncall 118\nstxdw [%r6+56], %r0\nmov %r0, 0\nexit";
    let (o, ctx) = run_ctx(&rig, asm, vec![0xff; 64])?;
    ensure!(exit(o)? == 0, "{o:?}");
    let q = |i: usize| u64::from_le_bytes(ctx[i..i + 8].try_into().unwrap());
    ensure!(q(0) == 1200 << 32 | 1234, "pid_tgid {:#x}", q(0));
    ensure!(q(8) == 100 << 32 | 1000, "uid_gid {:#x}", q(8));
    ensure!(q(16) == 1, "cpu");
    ensure!(ctx[24..27] == *b"ba\0" && ctx[27] == 0xff, "comm truncated to size-1 + NUL: {:?}", &ctx[24..28]);
    ensure!(q(32) == 5_000_000_123 && q(40) == 5_000_000_123, "ktime");
    ensure!(q(48) == 5_000_000_000, "coarse clock ticks at 4 ms (HZ 250): {}", q(48));
    ensure!(q(56) == (4294967296u64 - 75000) + 1250, "jiffies64 {}", q(56));
    Ok(())
}

/// probe_read_user from a replayed blob; kernel addresses fault for user reads and without a blob;
/// probe_read_user_str truncates with a NUL.
fn probe_read_sources_and_faults() -> Result<()> {
    let rig = Rig::new(vec![])?;
    rig.host.set_memory(vec![
        MemBlob { addr: 0x7000_0000, data: b"hello world\0".to_vec() },
        MemBlob { addr: 0xffff_8880_1000_0000, data: vec![0xab; 8] },
    ]);
    let asm = "mov %r6, %r1\n\
        mov %r1, %r6\nmov %r2, 8\nlddw %r3, 0x70000000\ncall 112\nstxdw [%r6+56], %r0\n\
        mov %r1, %r6\nadd %r1, 8\nmov %r2, 8\nlddw %r3, 0xffff888010000000\ncall 112\nstxdw [%r6+64], %r0\n\
        mov %r1, %r6\nadd %r1, 16\nmov %r2, 8\nlddw %r3, 0xffff888010000000\ncall 113\nstxdw [%r6+72], %r0\n\
        mov %r1, %r6\nadd %r1, 24\nmov %r2, 8\nlddw %r3, 0xffff888020000000\ncall 113\nstxdw [%r6+80], %r0\n\
        mov %r1, %r6\nadd %r1, 32\nmov %r2, 6\nlddw %r3, 0x70000000\ncall 114\nstxdw [%r6+88], %r0\n\
        mov %r1, %r6\nadd %r1, 40\nmov %r2, 16\nlddw %r3, 0x70000006\ncall 114\nstxdw [%r6+96], %r0\n\
        mov %r0, 0\nexit";
    let (o, ctx) = run_ctx(&rig, asm, vec![0xee; 104])?;
    ensure!(exit(o)? == 0, "{o:?}");
    let q = |i: usize| u64::from_le_bytes(ctx[i..i + 8].try_into().unwrap()) as i64;
    ensure!(&ctx[0..8] == b"hello wo" && q(56) == 0, "user blob read");
    ensure!(ctx[8..16] == [0; 8] && q(64) == -14, "user read of a kernel address: zeroed, -EFAULT");
    ensure!(ctx[16..24] == [0xab; 8] && q(72) == 0, "kernel blob read");
    ensure!(ctx[24..32] == [0; 8] && q(80) == -14, "unmapped kernel address: zeroed, -EFAULT");
    ensure!(&ctx[32..38] == b"hello\0" && q(88) == 6, "str truncated to size with NUL");
    ensure!(&ctx[40..46] == b"world\0" && ctx[46] == 0xee && q(96) == 6, "str: length with NUL, rest untouched");
    Ok(())
}

/// strtol with base auto-detection and strncmp against a constant string.
fn strtol_and_strncmp() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Array, 4, 8, 1)])?;
    rig.maps().update(rig.fds[0], &k32(0), b"abd\0\0\0\0\0", 0)?;
    let asm = format!(
        "mov %r6, %r1\n{}mov %r1, %r10\nadd %r1, -16\nmov %r2, 8\nmov %r3, 0\nmov %r4, %r6\ncall 105\nstxdw [%r6+8], %r0\n\
         {}mov %r1, %r10\nadd %r1, -24\nmov %r2, 3\n{}\ncall 182\nstxdw [%r6+16], %r0\nmov %r0, 0\nexit",
        stack_str(" -0x1fz", 16),
        stack_str("abc", 24),
        map_value(3, 0)
    );
    let (o, ctx) = run(&rig, &asm)?;
    ensure!(exit(o)? == 0, "{o:?}");
    let q = |i: usize| i64::from_le_bytes(ctx[i..i + 8].try_into().unwrap());
    ensure!(q(0) == -31 && q(8) == 6, "strtol: value {} consumed {}", q(0), q(8));
    ensure!(q(16) == -1, "strncmp(\"abc\", \"abd\", 3) = {}", q(16));
    Ok(())
}

/// A filled prog array slot stops the program with a tail call; an empty one continues with -ENOENT.
fn tail_call_filled_and_empty() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::ProgArray, 4, 4, 4)])?;
    rig.maps().update(rig.fds[0], &k32(2), &k32(7), 0)?;
    let call = |idx: i32| format!("{}\nmov %r3, {idx}\ncall 12\nexit", map(2, 0));
    let (o, _) = run(&rig, &call(2))?;
    ensure!(o == Outcome::TailCall { target: 7 }, "{o:?}");
    let (o, _) = run(&rig, &call(1))?;
    ensure!(exit(o)? == -2, "{o:?}");
    let (o, _) = run(&rig, &call(9))?;
    ensure!(exit(o)? == -7, "{o:?}");
    Ok(())
}

/// Outer array of maps → inner map handle → inner value.
fn map_in_map_lookup() -> Result<()> {
    let reg = std::sync::Arc::new(bpfc_runtime::maps::MapRegistry::new());
    let inner = reg.create(spec(MapType::Array, 4, 8, 1))?;
    reg.update(inner, &k32(0), &55u64.to_le_bytes(), 0)?;
    let outer = MapSpec { inner_map_fd: Some(inner), ..spec(MapType::ArrayOfMaps, 4, 4, 2) };
    let rig = Rig::with_registry(reg, vec![outer])?;
    rig.maps().update(rig.fds[0], &k32(1), &k32(inner), 0)?;
    let asm = format!(
        "stw [%r10-4], 1\n{}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, fail\nmov %r1, %r0\nstw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\n\
         call 1\njeq %r0, 0, fail\nldxdw %r0, [%r0+0]\nexit\nfail:\nmov %r0, -1\nexit",
        map(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 55, "{o:?}");
    Ok(())
}

/// LPM lookup from a program finds the longest prefix.
fn lpm_lookup_from_program() -> Result<()> {
    let s = MapSpec { flags: BPF_F_NO_PREALLOC, ..spec(MapType::LpmTrie, 8, 8, 4) };
    let rig = Rig::new(vec![s])?;
    for (plen, net, v) in [(8u32, [10u8, 0, 0, 0], 8u64), (24, [10, 1, 2, 0], 24)] {
        let mut k = plen.to_le_bytes().to_vec();
        k.extend_from_slice(&net);
        rig.maps().update(rig.fds[0], &k, &v.to_le_bytes(), 0)?;
    }
    let asm = format!(
        "stw [%r10-8], 32\nlddw %r1, 0x63020a\nstxw [%r10-4], %r1\n{}\nmov %r2, %r10\nadd %r2, -8\ncall 1\njeq %r0, 0, fail\nldxdw %r0, [%r0+0]\nexit\nfail:\nmov %r0, -1\nexit",
        map(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 8, "10.2.99.0 matches 10/8 only: {o:?}");
    Ok(())
}

/// spin_lock/unlock around an update of a value with a lock at offset 0; BPF_F_LOCK updates respect it.
fn spin_lock_round_trip() -> Result<()> {
    let s = MapSpec { spin_lock_off: Some(0), ..spec(MapType::Array, 4, 16, 1) };
    let rig = Rig::new(vec![s])?;
    let asm = format!(
        "stw [%r10-4], 0\n{}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, fail\nmov %r6, %r0\nmov %r1, %r6\ncall 93\n\
         ldxw %r7, [%r6+0]\nldxdw %r1, [%r6+8]\nadd %r1, 1\nstxdw [%r6+8], %r1\nmov %r1, %r6\ncall 94\nldxw %r0, [%r6+0]\nlsh %r7, 8\nor %r0, %r7\nexit\n\
         fail:\nmov %r0, -1\nexit",
        map(1, 0)
    );
    let (o, _) = run(&rig, &asm)?;
    ensure!(exit(o)? == 0x100, "lock held (1) inside, free (0) after: {o:?}");
    let mut v = vec![0xffu8; 4];
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&9u64.to_le_bytes());
    rig.maps().update(rig.fds[0], &k32(0), &v, 4)?;
    let got = rig.maps().lookup(rig.fds[0], &k32(0))?;
    ensure!(got[..4] == [0; 4] && got[8..] == 9u64.to_le_bytes(), "BPF_F_LOCK leaves the lock word: {got:?}");
    Ok(())
}

/// A callback hook standing in for an engine: callback 0x100 records its arguments in the context and
/// stops when the index reaches 2; callback 0x200 continues; anything else is not a callback.
fn test_runner(cx: &mut HelperCtx<'_>, func: u64, args: [u64; 5]) -> Option<u64> {
    let ctx = cx.env().ctx;
    let n = u64::from_le_bytes(cx.read(ctx, 8).ok()?.try_into().ok()?);
    cx.write(ctx + 8 + 16 * n, &args[0].to_le_bytes()).ok()?;
    cx.write(ctx + 16 + 16 * n, &args[1].to_le_bytes()).ok()?;
    cx.write(ctx, &(n + 1).to_le_bytes()).ok()?;
    match func {
        0x100 => Some((args[0] == 2) as u64),
        0x200 => Some(0),
        _ => None,
    }
}

/// bpf_loop: stops at the callback's non-zero return (count includes it), flags -EINVAL, too many -E2BIG;
/// without a hook the program traps.
fn loop_through_callback_hook() -> Result<()> {
    let rig = Rig::new(vec![])?;
    let call = |n: i64, func: u64, flags: i32| {
        format!("mov %r1, {n}\nlddw %r2, {func:#x}\nmov %r3, 77\nmov %r4, {flags}\ncall 181\nexit")
    };
    let (o, _) = run(&rig, &call(5, 0x100, 0))?;
    ensure!(
        o == Outcome::Trap(match o {
            Outcome::Trap(t) => t,
            _ => bail!("no hook: expected a trap, got {o:?}"),
        })
    );
    ensure!(o.trap_code() == Some(TrapCode::Unsupported), "{o:?}");
    rig.host.set_callback_runner(test_runner);
    let (o, ctx) = run_ctx(&rig, &call(5, 0x100, 0), vec![0; 256])?;
    ensure!(exit(o)? == 3, "stopped by the third call: {o:?}");
    let q = |i: usize| u64::from_le_bytes(ctx[i..i + 8].try_into().unwrap());
    ensure!(q(0) == 3 && q(8) == 0 && q(16) == 77 && q(24) == 1 && q(40) == 2, "callback args");
    let (o, _) = run_ctx(&rig, &call(4, 0x200, 0), vec![0; 256])?;
    ensure!(exit(o)? == 4, "{o:?}");
    let (o, _) = run_ctx(&rig, &call(4, 0x200, 1), vec![0; 256])?;
    ensure!(exit(o)? == -22, "{o:?}");
    let (o, _) = run_ctx(&rig, &call(1 << 24, 0x200, 0), vec![0; 256])?;
    ensure!(exit(o)? == -7, "{o:?}");
    let (o, _) = run_ctx(&rig, &call(1, 0x300, 0), vec![0; 256])?;
    ensure!(o.trap_code() == Some(TrapCode::BadCallTarget), "{o:?}");
    Ok(())
}

/// for_each_map_elem over a hash map: callback gets (map, key, value, ctx); key pointers are readable.
fn for_each_map_elem_hash() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::Hash, 4, 8, 8)])?;
    for i in 0..3u32 {
        rig.maps().update(rig.fds[0], &k32(i + 10), &(i as u64).to_le_bytes(), 0)?;
    }
    rig.host.set_callback_runner(|cx, func, args| {
        if func != 0x200 {
            return None;
        }
        let ctx = cx.env().ctx;
        let key = cx.read(args[1], 4).ok()?;
        let n = u64::from_le_bytes(cx.read(ctx, 8).ok()?.try_into().ok()?);
        cx.write(ctx + 8 + 8 * n, &[key[0], 0, 0, 0, 0, 0, 0, 0]).ok()?;
        cx.write(ctx, &(n + 1).to_le_bytes()).ok()?;
        Some(0)
    });
    let asm = format!("{}\nlddw %r2, 0x200\nmov %r3, 0\nmov %r4, 0\ncall 164\nexit", map(1, 0));
    let (o, ctx) = run_ctx(&rig, &asm, vec![0; 64])?;
    ensure!(exit(o)? == 3, "{o:?}");
    let mut keys: Vec<u8> = (0..3).map(|i| ctx[8 + 8 * i]).collect();
    keys.sort();
    ensure!(keys == [10, 11, 12], "{keys:?}");
    Ok(())
}

/// get_stack copies the event's kernel stack after skipping frames and zero-fills the rest.
fn get_stack_from_host() -> Result<()> {
    let rig = Rig::new(vec![])?;
    rig.host.set_stacks(Stacks { kernel: vec![0x10, 0x20, 0x30], user: vec![] });
    let asm = "mov %r6, %r1\nmov %r2, %r6\nmov %r3, 32\nmov %r4, 1\ncall 67\nstxdw [%r6+32], %r0\n\
               mov %r1, %r6\nmov %r2, %r6\nadd %r2, 40\nmov %r3, 8\nmov %r4, 256\ncall 67\nexit";
    let (o, ctx) = run_ctx(&rig, asm, vec![0xff; 48])?;
    ensure!(exit(o)? == -14, "no user stack: -EFAULT: {o:?}");
    let q = |i: usize| u64::from_le_bytes(ctx[i..i + 8].try_into().unwrap());
    ensure!(q(0) == 0x20 && q(8) == 0x30 && q(16) == 0 && q(24) == 0 && q(32) == 16, "stack {:?}", &ctx[..40]);
    ensure!(q(40) == 0, "zeroed on failure");
    Ok(())
}

/// get_stackid stores the event's stack under the kernel's jhash2 bucket and returns the same id again.
fn get_stackid_jhash_buckets() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::StackTrace, 4, 16, 8)])?;
    rig.host.set_stacks(Stacks { kernel: vec![0xffff_ffff_8100_0010, 0xffff_ffff_8100_0020, 0x30], user: vec![] });
    let call = |flags: i32| format!("{}\nmov %r3, {flags}\ncall 27\nexit", map(2, 0));
    let (o, _) = run(&rig, &call(0))?;
    let id = exit(o)?;
    let ips: Vec<u32> = [0xffff_ffff_8100_0010u64, 0xffff_ffff_8100_0020]
        .iter()
        .flat_map(|ip| [*ip as u32, (*ip >> 32) as u32])
        .collect();
    ensure!(id == (bpfc_runtime::maps::jhash2(&ips, 0) & 7) as i64, "id {id}");
    let (o, _) = run(&rig, &call(0))?;
    ensure!(exit(o)? == id, "same stack, same id");
    let v = rig.maps().lookup(rig.fds[0], &(id as u32).to_le_bytes())?;
    ensure!(v[..8] == 0xffff_ffff_8100_0010u64.to_le_bytes(), "{v:?}");
    let (o, _) = run(&rig, &call(3))?;
    ensure!(exit(o)? == -14, "skipping every frame: -EFAULT");
    let (o, _) = run(&rig, &call(1 << 12))?;
    ensure!(exit(o)? == -22, "unknown flag: -EINVAL");
    Ok(())
}

/// Program-controlled sizes beyond what the program may touch stop it with an out-of-bounds trap before
/// the runtime allocates anything (a 4 GiB size must not become a 4 GiB buffer).
fn huge_sizes_trap() -> Result<()> {
    let rig = Rig::new(vec![spec(MapType::RingBuf, 0, 0, 4096)])?;
    for (what, asm) in [
        ("probe_read_user", "mov %r1, %r10\nadd %r1, -8\nlddw %r2, 0xffffffff\nmov %r3, 0\ncall 112\nexit".to_string()),
        ("get_current_comm", "mov %r1, %r10\nadd %r1, -8\nlddw %r2, 0xffffffff\ncall 16\nexit".to_string()),
        ("get_stack", "mov %r2, %r10\nadd %r2, -8\nlddw %r3, 0xfffffff8\nmov %r4, 0\ncall 67\nexit".to_string()),
        (
            "ringbuf_output",
            format!("{}\nmov %r2, %r10\nadd %r2, -8\nlddw %r3, 0xffffffff\nmov %r4, 0\ncall 130\nexit", map(1, 0)),
        ),
    ] {
        let (o, _) = run(&rig, &asm)?;
        ensure!(o.trap_code() == Some(TrapCode::OutOfBounds), "{what}: {o:?}");
    }
    Ok(())
}

/// A value that is not a map handle stops the program instead of being dereferenced.
fn bad_map_handle_traps() -> Result<()> {
    let rig = Rig::new(vec![])?;
    let (o, _) = run(&rig, "stw [%r10-4], 0\nmov %r1, %r10\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit")?;
    ensure!(o.trap_code() == Some(TrapCode::HelperFault), "{o:?}");
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    type CaseFn = fn() -> Result<()>;
    let cases: Vec<(&str, CaseFn)> = vec![
        ("maps::hash_update_lookup_atomic", hash_update_lookup_atomic),
        ("maps::hash_errnos", hash_errnos),
        ("maps::array_bounds_and_direct_value", array_bounds_and_direct_value),
        ("maps::percpu_array_uses_event_cpu", percpu_array_uses_event_cpu),
        ("maps::queue_push_pop_peek", queue_push_pop_peek),
        ("maps::map_in_map_lookup", map_in_map_lookup),
        ("maps::lpm_lookup_from_program", lpm_lookup_from_program),
        ("maps::spin_lock_round_trip", spin_lock_round_trip),
        ("maps::bad_map_handle_traps", bad_map_handle_traps),
        ("output::ringbuf_reserve_submit_output_query", ringbuf_reserve_submit_output_query),
        ("output::perf_event_output_current_cpu", perf_event_output_current_cpu),
        ("output::trace_printk_formats", trace_printk_formats),
        ("output::snprintf_truncates", snprintf_truncates),
        ("task::answers_from_event", task_helpers_answer_from_event),
        ("task::get_stack_from_host", get_stack_from_host),
        ("task::get_stackid_jhash_buckets", get_stackid_jhash_buckets),
        ("probe::sources_and_faults", probe_read_sources_and_faults),
        ("probe::huge_sizes_trap", huge_sizes_trap),
        ("strings::strtol_and_strncmp", strtol_and_strncmp),
        ("control::tail_call_filled_and_empty", tail_call_filled_and_empty),
        ("control::loop_through_callback_hook", loop_through_callback_hook),
        ("control::for_each_map_elem_hash", for_each_map_elem_hash),
    ];
    let trials = cases
        .into_iter()
        .map(|(name, f)| Trial::test(name, move || f().map_err(|e| format!("{e:#}").into())))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
