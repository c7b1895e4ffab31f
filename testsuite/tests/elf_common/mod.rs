//! Shared by the `elf_*` tests: where the example objects are, compiling our own test objects, running
//! external tools.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("testsuite has a parent").to_path_buf()
}

/// Whether `cmd --version` (or `cmd version`) runs.
pub fn have(cmd: &str) -> bool {
    Command::new(cmd).arg("--version").output().is_ok_and(|o| o.status.success())
        || Command::new(cmd).arg("version").output().is_ok_and(|o| o.status.success())
}

/// The committed example objects, sorted.
pub fn example_objects() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root().join("examples"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "o")).collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A scratch directory for this test binary.
pub fn tmp(sub: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{sub}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("create scratch dir");
    d
}

/// Compiles our own test programs (`testsuite/elf-progs/*.bpf.c`) with clang-19 into `out`.
/// `Err` names what is missing.
pub fn own_objects(out: &Path) -> Result<Vec<PathBuf>, String> {
    if !have("clang-19") {
        return Err("clang-19 not found: our own ELF test objects (testsuite/elf-progs) are not built".into());
    }
    let src_dir = root().join("testsuite/elf-progs");
    let mut srcs: Vec<PathBuf> = std::fs::read_dir(&src_dir)
        .map_err(|e| format!("{}: {e}", src_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .collect();
    srcs.sort();
    let mut objs = Vec::new();
    for src in srcs {
        let stem = src.file_name().unwrap().to_string_lossy().trim_end_matches(".c").to_string();
        let obj = out.join(format!("{stem}.o"));
        let o = Command::new("clang-19")
            .args(["-O2", "-g", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-I"])
            .arg(root().join("examples"))
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!("clang-19 failed on {}: {}", src.display(), String::from_utf8_lossy(&o.stderr)));
        }
        objs.push(obj);
    }
    Ok(objs)
}

/// Runs a command, returning stdout or an error with stderr.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !o.status.success() {
        return Err(format!("{cmd:?} failed ({}): {}", o.status, String::from_utf8_lossy(&o.stderr)));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Short display name of an object path.
pub fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}
