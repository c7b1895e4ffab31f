//! The newcomer test: clone this repository's committed state into a temporary folder (with the shared
//! test data next to it, as in a fresh checkout), take the two set-up-to-result commands from the
//! clone's README exactly as written there, run them in a clean environment, and check what they print:
//! the demo must show live (or replayed) syscall counts, the test suite must pass with thousands of tests
//! actually run.
//!
//! The test suite run in the clone contains this test too; there it is reported as ignored (the
//! `BPFC_NEWCOMER_INNER` guard), otherwise it would recurse. Uncommitted changes are not part of the
//! clone: this checks what a newcomer would get from the repository.
//!
//! It rebuilds everything from scratch, so it is the slowest test (≈ the time of a fresh CI run).

use bpfc_testsuite::shared::shared_dir;
use libtest_mimic::{Arguments, Failed, Trial};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INNER: &str = "BPFC_NEWCOMER_INNER";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The commands of the README's "Two commands" section, in order, comments stripped.
fn readme_commands(readme: &str) -> Result<Vec<String>, String> {
    let section = readme.split("\n## Two commands").nth(1).ok_or("README has no `## Two commands` section")?;
    let section = section.split("\n## ").next().unwrap_or(section);
    let block = section.split("```sh\n").nth(1).ok_or("no ```sh block in the Two commands section")?;
    let block = block.split("```").next().unwrap_or(block);
    let commands: Vec<String> = block
        .lines()
        .map(|l| l.split(" #").next().unwrap_or(l).trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if commands.len() != 2 {
        return Err(format!("expected exactly two commands in the README, found {}: {commands:?}", commands.len()));
    }
    Ok(commands)
}

/// Runs `command` with bash in `dir` in a clean environment; returns its exit success and output
/// (stdout and stderr interleaved in one log file), or fails after `limit`.
fn run_logged(dir: &Path, command: &str, log: &Path, limit: Duration) -> Result<(bool, String), String> {
    let file = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = file.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        .env("TERM", "dumb")
        .env(INNER, "1")
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting `{command}`: {e}"))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > limit {
            let _ = Command::new("kill").arg("-KILL").arg(format!("-{}", child.id())).status();
            let _ = child.wait();
            return Err(format!("`{command}` did not finish within {} s (log: {})", limit.as_secs(), log.display()));
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let out = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    eprintln!("newcomer: `{command}` took {:.0} s, {status}", started.elapsed().as_secs_f64());
    Ok((status.success(), out))
}

fn tail(out: &str, n: usize) -> String {
    let lines: Vec<&str> = out.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Sums `test result:` lines: (passed, failed, ignored, result lines).
fn totals(out: &str) -> (u64, u64, u64, usize) {
    let mut t = (0, 0, 0, 0);
    for line in out.lines().filter(|l| l.starts_with("test result:")) {
        let num = |what: &str| {
            line.split(';')
                .find_map(|part| part.trim().strip_suffix(what).and_then(|n| n.rsplit(' ').next()?.trim().parse().ok()))
                .unwrap_or(0)
        };
        t.0 += num(" passed");
        t.1 += num(" failed");
        t.2 += num(" ignored");
        t.3 += 1;
    }
    t
}

fn newcomer() -> Result<(), Failed> {
    let shared = shared_dir("conformance")?.parent().map(Path::to_path_buf).ok_or("shared folder has no parent")?;
    let tmp = std::env::temp_dir().join(format!("bpfc-newcomer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&shared, tmp.join("shared")).map_err(|e| format!("linking shared/: {e}"))?;
    let clone = tmp.join("bpfc");
    let git = Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(repo())
        .arg(&clone)
        .output()
        .map_err(|e| format!("git clone: {e}"))?;
    if !git.status.success() {
        return Err(format!("git clone: {}", String::from_utf8_lossy(&git.stderr)).into());
    }
    let head = Command::new("git").arg("-C").arg(&clone).args(["log", "-1", "--format=%h %s"]).output();
    eprintln!(
        "newcomer: testing {} in {}",
        head.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default(),
        clone.display()
    );
    let readme = std::fs::read_to_string(clone.join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let commands = readme_commands(&readme)?;

    let (ok, demo) = run_logged(&clone, &commands[0], &tmp.join("demo.log"), Duration::from_secs(30 * 60))?;
    if !ok {
        return Err(format!("`{}` failed:\n{}", commands[0], tail(&demo, 60)).into());
    }
    let counted =
        demo.lines().skip_while(|l| !l.starts_with("map counts:")).skip(1).take_while(|l| l.starts_with("  "));
    if !demo.contains("== bpfc run") || counted.count() == 0 || !demo.contains(", 0 trapped") {
        return Err(format!("`{}` did not show syscall counts:\n{}", commands[0], tail(&demo, 60)).into());
    }

    let (ok, tests) = run_logged(&clone, &commands[1], &tmp.join("test.log"), Duration::from_secs(75 * 60))?;
    let (passed, failed, ignored, results) = totals(&tests);
    eprintln!("newcomer: {passed} passed, {failed} failed, {ignored} ignored in {results} test binaries");
    if !ok || failed > 0 || tests.contains("test result: FAILED") {
        return Err(
            format!("`{}` failed ({passed} passed, {failed} failed):\n{}", commands[1], tail(&tests, 80)).into()
        );
    }
    // The suite has thousands of named cases; far fewer means something silently ran nothing.
    if passed < 4000 || results < 20 {
        return Err(
            format!("`{}` ran only {passed} tests in {results} binaries:\n{}", commands[1], tail(&tests, 80)).into()
        );
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

/// The parsers the newcomer trial relies on, on this checkout's README and on sample result lines.
fn parsing() -> Result<(), Failed> {
    let readme = std::fs::read_to_string(repo().join("README.md")).map_err(|e| e.to_string())?;
    let commands = readme_commands(&readme)?;
    if commands != ["bash scripts/demo.sh", "bash scripts/test.sh"] {
        return Err(format!("README commands changed: {commands:?} (update this check with them)").into());
    }
    let out = "test result: ok. 12 passed; 0 failed; 3 ignored; 0 measured; 0 filtered out\n\
               x\ntest result: FAILED. 5 passed; 2 failed; 0 ignored; 0 measured; 1 filtered out\n";
    if totals(out) != (17, 2, 3, 2) {
        return Err(format!("totals: {:?}", totals(out)).into());
    }
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let inner = std::env::var_os(INNER).is_some();
    if inner {
        eprintln!("newcomer: ignored inside the newcomer test's own clone ({INNER} is set): it would recurse");
    }
    let trials = vec![
        Trial::test("newcomer::readme_and_result_parsing", parsing),
        Trial::test("newcomer::readme_commands_from_a_fresh_clone", newcomer).with_ignored_flag(inner),
    ];
    libtest_mimic::run(&args, trials).exit();
}
