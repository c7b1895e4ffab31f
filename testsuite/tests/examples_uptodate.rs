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

    let conclusion = libtest_mimic::run(&args, trials);
    if let Some(Ok(out_dir)) = REBUILT.get() {
        let _ = fs::remove_dir_all(out_dir);
    }
    conclusion.exit();
}
