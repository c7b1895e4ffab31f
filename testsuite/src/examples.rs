//! The bundled examples as test and benchmark subjects: building their user-space workloads and setting
//! an example's `const volatile int target_pid` before it is loaded (examples/README.md, "The workload
//! protocol").

use bpfc_compiler::input::Input;
use std::path::{Path, PathBuf};

/// The repository's `examples/` folder.
pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Builds the example workloads (`workload`, `uprobe_target`, `kernel_run`) into `dir`.
pub fn build_targets(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("bash")
        .arg(examples_dir().join("build.sh"))
        .arg("targets")
        .arg(dir)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!("examples/build.sh targets: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(())
}

/// Sets `const volatile int target_pid` in the object's `.rodata` (found through its BTF datasec).
pub fn set_target_pid(input: &mut Input, pid: u32) -> Result<(), String> {
    let object = input.object.as_ref().ok_or("not an ELF object")?;
    let btf = object.btf.as_ref().ok_or("no BTF")?;
    for (i, m) in object.maps.iter().enumerate() {
        let Some(bpfc_compiler::btf::Kind::Datasec { vars, .. }) = btf.get(m.btf_value_type_id).map(|t| &t.kind) else {
            continue;
        };
        for v in vars {
            if btf.get(v.ty).is_some_and(|t| btf.try_str(t.name_off) == Some("target_pid")) {
                let init = input.maps[i].init.get_or_insert_with(Vec::new);
                let end = v.offset as usize + 4;
                if init.len() < end {
                    init.resize(end, 0);
                }
                init[v.offset as usize..end].copy_from_slice(&pid.to_le_bytes());
                return Ok(());
            }
        }
    }
    Err("no `target_pid` variable".into())
}
