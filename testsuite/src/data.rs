//! Where the shared test data lives. The bpf_conformance folder sits next to the repository as
//! `../shared/conformance`; worktrees nest one level deeper, so every ancestor of the repository root is
//! tried. `BPFC_CONFORMANCE_DIR` overrides the search. A missing folder is reported, never skipped.

use std::path::{Path, PathBuf};

/// The bpf_conformance folder (with `tests/` and `negative/`), or a message saying where it was sought.
pub fn conformance_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("BPFC_CONFORMANCE_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_dir() {
            Ok(dir)
        } else {
            Err(format!("BPFC_CONFORMANCE_DIR={} is not a folder", dir.display()))
        };
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap_or(Path::new("/"));
    root.ancestors()
        .skip(1)
        .map(|a| a.join("shared/conformance"))
        .find(|d| d.join("tests").is_dir())
        .ok_or_else(|| format!("no shared/conformance folder next to {} or its ancestors", root.display()))
}
