//! Concurrency: programs on several threads hammering one map through the helpers, with atomic adds
//! (`lock add`) on the value pointers they get back, while a host thread churns other keys (inserting and
//! deleting, so the map's index changes under the programs). No update may be lost and nothing may crash.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, ensure};
use bpfc_runtime::abi::EventMeta;
use bpfc_runtime::exec::Outcome;
use bpfc_runtime::maps::{MapSpec, MapType};
use bpfc_testsuite::maprig::{MAP_SENTINEL, Rig, assemble};
use libtest_mimic::{Arguments, Trial};

const RUNS_PER_THREAD: u64 = 20_000;
const HOT_KEYS: u64 = 4;

/// key = ctx[0] (u32); look it up, insert 0 with BPF_NOEXIST when absent (losing the race is fine:
/// -EEXIST), look up again, then `lock add` 1 (64-bit) or 1 (32-bit at offset 8).
fn program() -> String {
    let m = format!("lddw %r1, {MAP_SENTINEL:#x}");
    format!(
        "ldxw %r6, [%r1+0]\nstxw [%r10-4], %r6\n\
         {m}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njne %r0, 0, found\n\
         stdw [%r10-24], 0\nstdw [%r10-16], 0\n{m}\nmov %r2, %r10\nadd %r2, -4\nmov %r3, %r10\nadd %r3, -24\nmov %r4, 1\ncall 2\n\
         {m}\nmov %r2, %r10\nadd %r2, -4\ncall 1\njeq %r0, 0, fail\n\
         found:\nmov %r1, 1\nlock add [%r0+0], %r1\nlock add32 [%r0+8], %r1\nmov %r0, 0\nexit\n\
         fail:\nmov %r0, -1\nexit"
    )
}

fn hammer(map_type: MapType, threads: u32) -> Result<()> {
    let rig = Arc::new(Rig::new(vec![MapSpec {
        name: "hot".into(),
        map_type: map_type as u32,
        key_size: 4,
        value_size: 16,
        max_entries: 64,
        ..Default::default()
    }])?);
    let code = Arc::new(assemble(&program())?);
    let stop = Arc::new(AtomicBool::new(false));
    let churn = {
        let (rig, stop) = (rig.clone(), stop.clone());
        std::thread::spawn(move || {
            let fd = rig.fds[0];
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let k = (1000 + n % 40).to_le_bytes();
                let _ = rig.maps().update(fd, &k, &[7; 16], 0);
                let _ = rig.maps().delete(fd, &(1000 + (n + 20) % 40).to_le_bytes());
                n = n.wrapping_add(1);
            }
        })
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (rig, code) = (rig.clone(), code.clone());
            std::thread::spawn(move || -> Result<()> {
                for i in 0..RUNS_PER_THREAD {
                    let key = ((i + t as u64) % HOT_KEYS) as u32;
                    let mut ctx = key.to_le_bytes().to_vec();
                    let ev = EventMeta { cpu: t, tid: 100 + t, pid: 100, ..Default::default() };
                    let o = rig.run(&code, &mut ctx, ev);
                    ensure!(o == Outcome::Exit(0), "thread {t} run {i}: {o:?}");
                }
                Ok(())
            })
        })
        .collect();
    let mut result = Ok(());
    for w in workers {
        let r = w.join().map_err(|_| anyhow::anyhow!("a worker panicked"))?;
        if result.is_ok() {
            result = r;
        }
    }
    stop.store(true, Ordering::Relaxed);
    churn.join().map_err(|_| anyhow::anyhow!("the churn thread panicked"))?;
    result?;
    let m = rig.maps().get(rig.fds[0])?;
    let vs = m.host_value_size();
    let per = vs / 16;
    let (mut total64, mut total32) = (0u64, 0u64);
    for k in 0..HOT_KEYS as u32 {
        let v = rig.maps().lookup(rig.fds[0], &k.to_le_bytes())?;
        for c in 0..per {
            let s = &v[c * vs / per..];
            total64 += u64::from_le_bytes(s[..8].try_into()?);
            total32 += u32::from_le_bytes(s[8..12].try_into()?) as u64;
        }
    }
    let want = RUNS_PER_THREAD * threads as u64;
    ensure!(
        total64 == want && total32 == want,
        "lost updates: 64-bit sum {total64}, 32-bit sum {total32}, want {want}"
    );
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("hash::two_threads_atomic_adds_with_churn", || {
            hammer(MapType::Hash, 2).map_err(|e| format!("{e:#}").into())
        }),
        Trial::test("hash::four_threads_atomic_adds_with_churn", || {
            hammer(MapType::Hash, 4).map_err(|e| format!("{e:#}").into())
        }),
        Trial::test("lru_hash::two_threads_atomic_adds_with_churn", || {
            hammer(MapType::LruHash, 2).map_err(|e| format!("{e:#}").into())
        }),
        Trial::test("percpu_hash::two_threads_atomic_adds_with_churn", || {
            hammer(MapType::PercpuHash, 2).map_err(|e| format!("{e:#}").into())
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}
