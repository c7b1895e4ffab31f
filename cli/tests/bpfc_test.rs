//! `bpfc test` as a user runs it (the built binary): its kernel column on the raw tracepoint and syscall
//! examples and their replay files must report the kernel identical and exit 0; a syscall context the
//! kernel refuses must make it exit 1 naming event, program and map; for tracepoint programs it must say
//! the kernel cannot run them. The comparison itself is tested in testsuite/tests/kernel_column.rs.

use libtest_mimic::{Arguments, Failed, Trial};
use std::path::PathBuf;
use std::process::Command;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Runs `bpfc test` with `args`; returns exit code and stdout.
fn bpfc_test(args: &[&str]) -> Result<(i32, String), Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfc"))
        .arg("test")
        .args(args)
        .current_dir(examples())
        .output()
        .map_err(|e| format!("running bpfc: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().ok_or("bpfc was killed by a signal")?;
    if !out.stderr.is_empty() {
        return Err(format!("stderr: {}\nstdout: {stdout}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok((code, stdout))
}

fn raw_syscount_kernel_identical() -> Result<(), Failed> {
    let (code, out) = bpfc_test(&["raw_syscount.bpf.o", "--events", "events/raw_tp_write.jsonl"])?;
    if code != 0 || !out.contains("kernel (raw_sys_enter, raw_sys_exit): identical (23 invocations)") {
        return Err(format!("exit {code}:\n{out}").into());
    }
    Ok(())
}

fn tracepoint_kernel_not_compared() -> Result<(), Failed> {
    let (code, out) =
        bpfc_test(&["syscount.bpf.o", "--events", "events/syscalls.jsonl", "--tp-formats", "events/formats"])?;
    let want = "kernel: not compared — BPF_PROG_TEST_RUN cannot run Tracepoint programs (count_sys_enter in \
                tracepoint/raw_syscalls/sys_enter)";
    if code != 0 || !out.contains(want) {
        return Err(format!("exit {code}, want a line `{want}`:\n{out}").into());
    }
    Ok(())
}

fn syscall_add_kernel_identical() -> Result<(), Failed> {
    let (code, out) = bpfc_test(&["syscall_add.bpf.o", "--events", "events/syscall_add.jsonl"])?;
    if code != 0 || !out.contains("kernel (add): identical (3 invocations)") {
        return Err(format!("exit {code}:\n{out}").into());
    }
    Ok(())
}

/// A syscall context shorter than the program's fields: the engines agree (zero padding), the kernel
/// refuses the run, so `bpfc test` must fail and say where.
fn syscall_short_context_exits_1() -> Result<(), Failed> {
    let events = std::env::temp_dir().join(format!("bpfc-test-short-{}.jsonl", std::process::id()));
    std::fs::write(&events, "{\"ctx\":\"0100000002000000\"}\n").map_err(|e| e.to_string())?;
    let got = bpfc_test(&["syscall_add.bpf.o", "--events", &events.to_string_lossy()]);
    let _ = std::fs::remove_file(&events);
    let (code, out) = got?;
    let want = ["aot: identical (1 invocations)", "kernel (add): 2 differences", "event 1 add:", "EINVAL", "map total"];
    if code != 1 || want.iter().any(|w| !out.contains(w)) {
        return Err(format!("exit {code}, want 1 and {want:?}:\n{out}").into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let trials = vec![
        Trial::test("raw_syscount_kernel_identical", raw_syscount_kernel_identical),
        Trial::test("tracepoint_kernel_not_compared", tracepoint_kernel_not_compared),
        Trial::test("syscall_add_kernel_identical", syscall_add_kernel_identical),
        Trial::test("syscall_short_context_exits_1", syscall_short_context_exits_1),
    ];
    libtest_mimic::run(&args, trials).exit();
}
