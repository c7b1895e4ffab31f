//! The committed example objects are what their sources build to, and every one of them loads into the
//! running kernel.
//!
//! `examples/*.bpf.o` are committed so that bpfc's tests do not need clang; that is only honest while they
//! match their `.bpf.c`. This test reruns `examples/build.sh bpf` (the one place the compiler flags live)
//! into a temporary directory and compares every object byte for byte with the committed one, one trial per
//! object so a failure names the stale file. build.sh compiles in one canonical directory because clang-19's
//! BTF type order otherwise depends on the build path (see its header). If `clang-19` is missing the rebuild
//! trials are ignored and a SKIP line says so; a different clang-19 release than the one recorded in
//! `examples/CLANG_VERSION` is reported alongside any mismatch, since it is the usual cause.
//!
//! The kernel trials load every object with `bpftool prog loadall` (libbpf: map creation, CO-RE relocation
//! against /sys/kernel/btf/vmlinux, BPF_PROG_LOAD and the verifier) into a private pin directory under
//! /sys/fs/bpf and remove it again. They need root, bpftool and a bpf filesystem; without them they are
//! ignored with a SKIP line naming what is missing.
//!
//! The kernel_run trials check what README.md promises about each example's results: for every
//! `examples/expected/EXAMPLE.CASE.txt` and both objects (v3, v4) they run `kernel_run` (libbpf, the kernel
//! as reference) on the case's workload and compare its events (in order) and map elements (as a multiset)
//! with the expected lines, written from the workload's definition. Pids are normalised to `<PID>`/`<PPID>`
//! and `ignore:` lines drop timing-dependent elements (`either:` lines name an accepted alternative value). They need, besides the kernel facilities, gcc and
//! libbpf-dev to build kernel_run and the workloads (`build.sh targets`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use libtest_mimic::{Arguments, Failed, Trial};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples")
}

/// The committed objects, sorted: every `NAME.bpf.o` and `NAME.v4.bpf.o` in examples/.
fn committed_objects(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut objects = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".bpf.o") {
            objects.push(name);
        }
    }
    objects.sort();
    Ok(objects)
}

fn sources(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut stems = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(stem) = name.strip_suffix(".bpf.c") {
            stems.push(stem.to_string());
        }
    }
    stems.sort();
    Ok(stems)
}

/// Every source has both objects and every object has a source, and the clang version is recorded.
fn inventory(dir: &Path) -> Result<(), Failed> {
    let stems = sources(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    if stems.is_empty() {
        return Err(format!("no .bpf.c files in {}", dir.display()).into());
    }
    let objects: BTreeSet<String> =
        committed_objects(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?.into_iter().collect();
    let expected: BTreeSet<String> =
        stems.iter().flat_map(|s| [format!("{s}.bpf.o"), format!("{s}.v4.bpf.o")]).collect();
    let missing: Vec<_> = expected.difference(&objects).collect();
    let orphans: Vec<_> = objects.difference(&expected).collect();
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("objects missing (run examples/build.sh): {missing:?}"));
    }
    if !orphans.is_empty() {
        problems.push(format!("objects without a .bpf.c source: {orphans:?}"));
    }
    match fs::read_to_string(dir.join("CLANG_VERSION")) {
        Ok(v) if !v.trim().is_empty() => {}
        _ => problems.push("examples/CLANG_VERSION is missing or empty".to_string()),
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n").into()) }
}

fn clang_first_line() -> Option<String> {
    let out = Command::new("clang-19").arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).lines().next().map(str::to_string)
}

/// The directory build.sh wrote the fresh objects to, or why it failed; shared by all trials.
static REBUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();

/// Runs build.sh once for all trials (the first trial that needs it pays).
fn rebuilt_dir(dir: &Path) -> &'static Result<PathBuf, String> {
    REBUILT.get_or_init(|| {
        let out_dir = std::env::temp_dir().join(format!("bpfc-examples-uptodate-{}", std::process::id()));
        let _ = fs::remove_dir_all(&out_dir);
        fs::create_dir_all(&out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
        let out = Command::new("sh")
            .arg(dir.join("build.sh"))
            .arg("bpf")
            .arg(&out_dir)
            .output()
            .map_err(|e| format!("running examples/build.sh: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "examples/build.sh bpf failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out_dir)
    })
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()))
}

fn check_uptodate(dir: &Path, object: &str) -> Result<(), Failed> {
    let fresh_dir = rebuilt_dir(dir).as_ref().map_err(|e| e.clone())?;
    let committed = fs::read(dir.join(object)).map_err(|e| format!("reading examples/{object}: {e}"))?;
    let fresh = fs::read(fresh_dir.join(object)).map_err(|e| format!("build.sh did not produce {object}: {e}"))?;
    if committed == fresh {
        return Ok(());
    }
    let recorded = fs::read_to_string(dir.join("CLANG_VERSION")).unwrap_or_default();
    let installed = clang_first_line().unwrap_or_default();
    let mut msg = format!(
        "examples/{object} is stale: the rebuild differs ({} vs {} bytes, first difference at byte {}); \
         run examples/build.sh and commit the objects",
        committed.len(),
        fresh.len(),
        first_difference(&committed, &fresh)
    );
    if recorded.trim() != installed.trim() {
        msg.push_str(&format!(
            "\nnote: the objects were built with `{}` but the installed compiler is `{}`",
            recorded.trim(),
            installed.trim()
        ));
    }
    Err(msg.into())
}

/// Why the kernel trials cannot run here, if they cannot.
fn kernel_unavailable() -> Option<String> {
    if Command::new("bpftool").arg("version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Some("bpftool is not installed".into());
    }
    let euid = fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
    });
    if euid.as_deref() != Some("0") {
        return Some("not running as root (bpf() program loading needs CAP_BPF/CAP_SYS_ADMIN)".into());
    }
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Some("the kernel has no BTF (/sys/kernel/btf/vmlinux), so CO-RE cannot be resolved".into());
    }
    let bpffs_mounted = |mounts: &str| mounts.lines().any(|l| l.split_whitespace().nth(1) == Some("/sys/fs/bpf"));
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    if !bpffs_mounted(&mounts) {
        let _ = Command::new("mount").args(["-t", "bpf", "bpf", "/sys/fs/bpf"]).status();
        if !bpffs_mounted(&fs::read_to_string("/proc/mounts").unwrap_or_default()) {
            return Some("no bpf filesystem at /sys/fs/bpf and mounting one failed".into());
        }
    }
    None
}

fn check_kernel_load(dir: &Path, object: &str) -> Result<(), Failed> {
    let pin = PathBuf::from(format!("/sys/fs/bpf/bpfc_examples_{}_{}", std::process::id(), object.replace('.', "_")));
    let _ = fs::remove_dir_all(&pin);
    let out = Command::new("bpftool")
        .args(["prog", "loadall"])
        .arg(dir.join(object))
        .arg(&pin)
        .output()
        .map_err(|e| format!("running bpftool: {e}"))?;
    let pinned: Vec<String> = fs::read_dir(&pin)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let _ = fs::remove_dir_all(&pin);
    if !out.status.success() {
        return Err(format!(
            "bpftool prog loadall examples/{object} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    if pinned.is_empty() {
        return Err(format!("bpftool loaded examples/{object} but pinned no program").into());
    }
    Ok(())
}

/// One `examples/expected/*.txt` file.
struct Expectation {
    object: String,
    run: Vec<String>,
    ignores: Vec<(String, Option<String>)>,
    events: Vec<String>,
    maps: Vec<String>,
    /// `either:` lines: map elements accepted in place of the expected element with the same map and key.
    alternatives: Vec<String>,
}

fn parse_expectation(path: &Path) -> anyhow::Result<Expectation> {
    let text = fs::read_to_string(path)?;
    let mut e = Expectation {
        object: String::new(),
        run: Vec::new(),
        ignores: Vec::new(),
        events: Vec::new(),
        maps: Vec::new(),
        alternatives: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(v) = line.strip_prefix("object:") {
            e.object = v.trim().to_string();
        } else if let Some(v) = line.strip_prefix("run:") {
            e.run = v.split_whitespace().map(str::to_string).collect();
        } else if let Some(v) = line.strip_prefix("ignore:") {
            let mut w = v.split_whitespace();
            let map =
                w.next().ok_or_else(|| anyhow::anyhow!("{}:{}: `ignore:` without a map", path.display(), n + 1))?;
            e.ignores.push((map.to_string(), w.next().map(str::to_string)));
        } else if let Some(v) = line.strip_prefix("either:") {
            e.alternatives.push(v.trim().to_string());
        } else if line.starts_with("event ") {
            e.events.push(line.to_string());
        } else if line.starts_with("map ") {
            e.maps.push(line.to_string());
        } else {
            anyhow::bail!("{}:{}: unrecognised line `{line}`", path.display(), n + 1);
        }
    }
    if e.object.is_empty() || e.run.is_empty() {
        anyhow::bail!("{}: needs `object:` and `run:` lines", path.display());
    }
    Ok(e)
}

/// Replaces every 4-byte-aligned little-endian occurrence of the two pids in a hex field by a token.
fn normalise_hex(hex: &str, pid: u32, harness: u32) -> String {
    let pid_hex: String = pid.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let harness_hex: String = harness.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut out = String::new();
    let mut rest = hex;
    while !rest.is_empty() {
        let n = rest.len().min(8);
        let (chunk, tail) = rest.split_at(n);
        if chunk == pid_hex {
            out.push_str("<PID>");
        } else if chunk == harness_hex {
            out.push_str("<PPID>");
        } else {
            out.push_str(chunk);
        }
        rest = tail;
    }
    out
}

/// Normalises one `event`/`map` line of kernel_run's output.
fn normalise_line(line: &str, pid: u32, harness: u32) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_hex = |w: &str| !w.is_empty() && w.len().is_multiple_of(2) && w.bytes().all(|b| b.is_ascii_hexdigit());
    let mut out = Vec::with_capacity(words.len());
    for (i, w) in words.iter().enumerate() {
        let hex_field = match words[0] {
            "event" => i == 2,
            _ => i > 0 && (words[i - 1] == "key" || words[i - 1] == "value"),
        };
        if hex_field && is_hex(w) {
            out.push(normalise_hex(w, pid, harness));
        } else {
            out.push((*w).to_string());
        }
    }
    out.join(" ")
}

/// Builds kernel_run, workload and uprobe_target once into a temporary directory.
static TARGETS: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn targets_dir(dir: &Path) -> &'static Result<PathBuf, String> {
    TARGETS.get_or_init(|| {
        let out_dir = std::env::temp_dir().join(format!("bpfc-examples-run-{}", std::process::id()));
        let _ = fs::remove_dir_all(&out_dir);
        fs::create_dir_all(&out_dir).map_err(|e| format!("creating {}: {e}", out_dir.display()))?;
        let out = Command::new("sh")
            .arg(dir.join("build.sh"))
            .arg("targets")
            .arg(&out_dir)
            .output()
            .map_err(|e| format!("running examples/build.sh targets: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "examples/build.sh targets failed ({}):\n{}{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(out_dir)
    })
}

fn check_kernel_run(dir: &Path, case: &Path, object: &str) -> Result<(), Failed> {
    let exp = parse_expectation(case).map_err(|e| e.to_string())?;
    let run_dir = targets_dir(dir).as_ref().map_err(|e| e.clone())?;
    // The object sits next to the user-space binaries: uprobe sections name their binary relative to it.
    let obj_copy = run_dir.join(object);
    fs::copy(dir.join(object), &obj_copy).map_err(|e| format!("copying {object}: {e}"))?;
    let mut cmd = Command::new(run_dir.join("kernel_run"));
    cmd.arg(&obj_copy).arg("--").arg(run_dir.join(&exp.run[0])).args(&exp.run[1..]).current_dir(run_dir);
    cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("starting kernel_run: {e}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("kernel_run {object} -- {} did not finish within 60 s", exp.run.join(" ")).into());
            }
            Err(e) => return Err(format!("waiting for kernel_run: {e}").into()),
        }
    }
    let out = child.wait_with_output().map_err(|e| format!("reading kernel_run output: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("kernel_run {object} failed ({}):\n{stderr}", out.status).into());
    }
    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split_whitespace().collect();
    let (pid, harness) = match header.as_slice() {
        ["target_pid", p, "harness_pid", h] => (
            p.parse::<u32>().map_err(|e| format!("bad pid in `{}`: {e}", header.join(" ")))?,
            h.parse::<u32>().map_err(|e| format!("bad pid in `{}`: {e}", header.join(" ")))?,
        ),
        _ => return Err(format!("kernel_run printed no target_pid line:\n{stdout}{stderr}").into()),
    };
    let ignored = |line: &str| {
        let w: Vec<&str> = line.split_whitespace().collect();
        exp.ignores.iter().any(|(map, key)| {
            w.get(1) == Some(&map.as_str()) && key.as_ref().is_none_or(|k| w.get(4) == Some(&k.as_str()))
        })
    };
    let mut events = Vec::new();
    let mut maps = Vec::new();
    for line in lines {
        let norm = normalise_line(line, pid, harness);
        if norm.starts_with("event ") {
            events.push(norm);
        } else if norm.starts_with("map ") && !ignored(&norm) {
            maps.push(norm);
        }
    }
    let mut problems = Vec::new();
    if events != exp.events {
        problems.push(format!(
            "events differ:\n  expected:\n    {}\n  kernel:\n    {}",
            exp.events.join("\n    "),
            events.join("\n    ")
        ));
    }
    let mut want = exp.maps.clone();
    want.sort();
    maps.sort();
    // "map NAME TYPE key KEY": an `either:` alternative stands in for the expected element it shares this with.
    let element = |l: &str| l.split(" value ").next().unwrap_or(l).to_string();
    let stand_in = |l: &String| exp.alternatives.contains(l) && want.iter().any(|w| element(w) == element(l));
    let replaced: Vec<String> = maps.iter().filter(|l| stand_in(l)).map(|l| element(l)).collect();
    let missing: Vec<_> = want.iter().filter(|l| !maps.contains(l) && !replaced.contains(&element(l))).collect();
    let unexpected: Vec<_> = maps.iter().filter(|l| !want.contains(l) && !stand_in(l)).collect();
    if !missing.is_empty() || !unexpected.is_empty() || want.len() != maps.len() {
        problems.push(format!(
            "map elements differ:\n  expected but absent:\n    {}\n  present but not expected:\n    {}",
            missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n    "),
            unexpected.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n    ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} on `{}` (pid {pid}):\n{}\nkernel_run stderr:\n{stderr}",
            object,
            exp.run.join(" "),
            problems.join("\n")
        )
        .into())
    }
}

/// Why kernel_run cannot be built here, if it cannot.
fn targets_unavailable() -> Option<String> {
    if Command::new("gcc").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        return Some("gcc is not installed".into());
    }
    if !Path::new("/usr/include/bpf/libbpf.h").exists() {
        return Some("libbpf-dev is not installed (/usr/include/bpf/libbpf.h)".into());
    }
    None
}

fn main() {
    let args = Arguments::from_args();
    let dir = examples_dir();
    let objects = match committed_objects(&dir) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cannot list {}: {e}", dir.display());
            std::process::exit(1);
        }
    };

    let mut trials = Vec::new();
    {
        let dir = dir.clone();
        trials.push(Trial::test("inventory", move || inventory(&dir)));
    }

    let no_clang = clang_first_line().is_none();
    if no_clang {
        eprintln!(
            "SKIP examples_uptodate: clang-19 not found, the committed example objects are NOT checked against \
             their sources (install clang-19, e.g. scripts/setup.sh)"
        );
    }
    for object in &objects {
        let dir = dir.clone();
        let obj = object.clone();
        trials.push(
            Trial::test(format!("uptodate/{object}"), move || check_uptodate(&dir, &obj)).with_ignored_flag(no_clang),
        );
    }

    let kernel_missing = kernel_unavailable();
    if let Some(why) = &kernel_missing {
        eprintln!("SKIP examples kernel load: {why}; the example objects are NOT loaded into the kernel");
    }
    for object in &objects {
        let dir = dir.clone();
        let obj = object.clone();
        trials.push(
            Trial::test(format!("kernel_load/{object}"), move || check_kernel_load(&dir, &obj))
                .with_ignored_flag(kernel_missing.is_some()),
        );
    }

    let run_missing = kernel_missing.clone().or_else(targets_unavailable);
    if let Some(why) = &run_missing {
        eprintln!("SKIP examples kernel_run: {why}; the examples' expected results are NOT checked in the kernel");
    }
    let mut cases: Vec<PathBuf> = fs::read_dir(dir.join("expected"))
        .map(|rd| {
            rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "txt")).collect()
        })
        .unwrap_or_default();
    cases.sort();
    for case in cases {
        let name = case.file_stem().unwrap_or_default().to_string_lossy().into_owned();
        let object_stem = match parse_expectation(&case) {
            Ok(e) => e.object,
            Err(e) => {
                let msg = e.to_string();
                trials.push(Trial::test(format!("kernel_run/{name}"), move || Err(msg.into())));
                continue;
            }
        };
        for object in [format!("{object_stem}.bpf.o"), format!("{object_stem}.v4.bpf.o")] {
            let dir = dir.clone();
            let case = case.clone();
            let trial_name = format!("kernel_run/{name}/{object}");
            trials.push(
                Trial::test(trial_name, move || check_kernel_run(&dir, &case, &object))
                    .with_ignored_flag(run_missing.is_some()),
            );
        }
    }

    let conclusion = libtest_mimic::run(&args, trials);
    for dir in [REBUILT.get(), TARGETS.get()].into_iter().flatten().flatten() {
        let _ = fs::remove_dir_all(dir);
    }
    conclusion.exit();
}
