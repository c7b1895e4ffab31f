//! Throughput of the live tracepoint source (figures for docs/bench.md):
//!
//!     cargo run --release -p bpfc-runtime --example live_bench [N]
//!
//! A child stops itself, then calls getppid(2) N times in a tight loop through syscall(2) and exits. We
//! attach `syscalls:sys_enter_getppid` for its pid (every CPU), let it run, and consume every event. We
//! print: events received and lost, the child's run time traced and untraced, events per second delivered
//! to the consumer, and the consumer thread's CPU time per event (utime + stime of /proc/thread-self/stat;
//! that is our whole code path: ring drain, copy of the record, heap merge, task lookup, Event build).
//! It fails if events are missing without being counted as lost, or if the kernel's count disagrees.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bpfc_runtime::events::{LiveOptions, LiveSource, StopCondition};

type Failed = Box<dyn std::error::Error>;

const LOOP_C: &str = r#"
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
	long n = atol(argv[1]);
	syscall(SYS_kill, (long)getpid(), SIGSTOP);
	for (long i = 0; i < n; i++)
		syscall(SYS_getppid);
	syscall(SYS_exit_group, 0);
	return 0;
}
"#;

fn build() -> Result<PathBuf, Failed> {
    let dir = std::env::temp_dir().join(format!("bpfc-events-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let src = dir.join("loop.c");
    std::fs::write(&src, LOOP_C)?;
    let bin = dir.join("loop");
    let out = Command::new("gcc").args(["-O2", "-o"]).arg(&bin).arg(&src).output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    Ok(bin)
}

fn stopped(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.rsplit_once(") ").and_then(|(_, r)| r.chars().next()) == Some('T')
}

fn thread_cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let fields: Vec<&str> = s.rsplit_once(") ").map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    // Fields after the comm: state is index 0, utime index 11, stime index 12.
    let get = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

fn run(bin: &PathBuf, n: u64, traced: bool, pages_log2: u32) -> Result<String, Failed> {
    let mut child = Command::new(bin).arg(n.to_string()).spawn()?;
    let pid = child.id();
    let t0 = Instant::now();
    while !stopped(pid) {
        if t0.elapsed() > Duration::from_secs(10) {
            return Err("child did not stop".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut src = if traced {
        let opts = LiveOptions {
            pid: Some(pid),
            stop: StopCondition {
                duration: Some(Duration::from_secs(120)),
                flag: None,
                exit_of: Some(pid),
                hold_exit: false,
            },
            pages_log2,
            user_stack: 0,
        };
        Some(LiveSource::tracepoints(&[("syscalls", "sys_enter_getppid")], opts)?)
    } else {
        None
    };
    let cpu0 = thread_cpu_ticks();
    let start = Instant::now();
    Command::new("kill").args(["-CONT", &pid.to_string()]).status()?;
    let mut count = 0u64;
    let mut first_last = None;
    if let Some(src) = src.as_mut() {
        for ev in src.by_ref() {
            count += 1;
            let t = ev.meta.time_ns;
            first_last = Some(first_last.map_or((t, t), |(f, _)| (f, t)));
        }
    }
    child.wait()?;
    let wall = start.elapsed();
    let cpu = (thread_cpu_ticks() - cpu0) as f64 / 100.0;
    let Some(src) = src else {
        return Ok(format!(
            "untraced: {n} getppid in {:.3} s ({:.0} ns/syscall)",
            wall.as_secs_f64(),
            wall.as_nanos() as f64 / n as f64
        ));
    };
    let st = src.stats();
    if count + st.lost != n || st.fired != n {
        return Err(format!("{count} events + {} lost != {n} syscalls (kernel counted {})", st.lost, st.fired).into());
    }
    let span = first_last.map_or(0.0, |(f, l)| (l - f) as f64 / 1e9);
    Ok(format!(
        "traced (ring {} KiB/CPU): {count} events, {} lost, wall {:.3} s, {:.0} events/s delivered, \
         kernel-side span {:.3} s, consumer CPU {:.2} s = {:.0} ns/event",
        4 << pages_log2,
        st.lost,
        wall.as_secs_f64(),
        count as f64 / wall.as_secs_f64(),
        span,
        cpu,
        cpu * 1e9 / count.max(1) as f64
    ))
}

fn main() -> Result<(), Failed> {
    let n: u64 = std::env::args().nth(1).map_or(Ok(1_000_000), |a| a.parse())?;
    let bin = build()?;
    println!("{}", run(&bin, n, false, 0)?);
    for pages in [7, 10] {
        println!("{}", run(&bin, n, true, pages)?);
    }
    Ok(())
}
