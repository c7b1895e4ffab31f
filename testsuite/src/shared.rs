//! Where the shared test data lives. The brief's layout puts it at `<repo>/../shared` (`/work/shared` for
//! the main checkout); a git worktree sits one level deeper, so we search upwards from the workspace for
//! the first `shared/<rel>` that exists. `BPFC_SHARED_DIR` overrides the search. Not finding the data
//! is an error for the caller to report as a failure: a run over nothing must never look like a pass.

use std::path::{Path, PathBuf};

/// The folder `shared/<rel>` (e.g. `conformance/tests`).
pub fn shared_dir(rel: &str) -> Result<PathBuf, String> {
    if let Ok(root) = std::env::var("BPFC_SHARED_DIR") {
        let dir = Path::new(&root).join(rel);
        return if dir.is_dir() { Ok(dir) } else { Err(format!("BPFC_SHARED_DIR: {} is not a folder", dir.display())) };
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut tried = Vec::new();
    for ancestor in manifest.ancestors().skip(1) {
        let dir = ancestor.join("shared").join(rel);
        if dir.is_dir() {
            return Ok(dir);
        }
        tried.push(dir.display().to_string());
    }
    Err(format!("test data folder shared/{rel} not found (tried {})", tried.join(", ")))
}
