//! Where tracepoint record layouts come from: tracefs `format` files, read from this machine's tracefs
//! (`/sys/kernel/tracing`, mounted with `mount -t tracefs` when absent) or from a copy of its
//! `events/` tree (`DIR/CATEGORY/NAME/format`, e.g. `examples/events/formats/`), so replay works where
//! tracefs is not permitted. Directories are searched in the order given, tracefs last; parsed formats
//! are cached.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::ctx::{TracepointFormat, TracepointFormatError};

/// A tracepoint's format cannot be found or read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// No directory has it.
    #[error("no format for tracepoint `{category}:{name}` (looked in {searched})")]
    NotFound {
        /// Category.
        category: String,
        /// Name.
        name: String,
        /// The `format` paths tried.
        searched: String,
    },
    /// The file exists but is malformed.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: TracepointFormatError,
    },
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A `CATEGORY:NAME` spelling is wrong.
    #[error("bad tracepoint name `{spec}`: expected `CATEGORY:NAME` (or `CATEGORY/NAME`)")]
    BadName {
        /// What was given.
        spec: String,
    },
    /// tracefs is not mounted and cannot be mounted.
    #[error("tracefs is not available: {reason}")]
    NoTracefs {
        /// Why.
        reason: String,
    },
}

/// Splits `cat:name` or `cat/name`.
pub fn split_tracepoint(spec: &str) -> Result<(&str, &str), FormatError> {
    let (c, n) =
        spec.split_once(':').or_else(|| spec.split_once('/')).ok_or(FormatError::BadName { spec: spec.into() })?;
    let ok =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !ok(c) || !ok(n) {
        return Err(FormatError::BadName { spec: spec.into() });
    }
    Ok((c, n))
}

/// The tracefs mount point, mounting it at `/sys/kernel/tracing` if no mount is found.
pub fn tracefs_root() -> Result<PathBuf, FormatError> {
    for p in ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"] {
        if Path::new(p).join("events").is_dir() {
            return Ok(PathBuf::from(p));
        }
    }
    let out = std::process::Command::new("mount").args(["-t", "tracefs", "nodev", "/sys/kernel/tracing"]).output();
    match out {
        Ok(o) if o.status.success() && Path::new("/sys/kernel/tracing/events").is_dir() => {
            Ok(PathBuf::from("/sys/kernel/tracing"))
        }
        Ok(o) => Err(FormatError::NoTracefs {
            reason: format!(
                "`mount -t tracefs nodev /sys/kernel/tracing` failed: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ),
        }),
        Err(e) => Err(FormatError::NoTracefs { reason: format!("cannot run mount: {e}") }),
    }
}

/// A cache of tracepoint formats over a search path.
#[derive(Debug)]
pub struct TpFormats {
    dirs: Vec<PathBuf>,
    tracefs: bool,
    cache: Mutex<HashMap<(String, String), Arc<TracepointFormat>>>,
}

impl TpFormats {
    /// Formats from this machine's tracefs only.
    pub fn tracefs() -> TpFormats {
        TpFormats { dirs: Vec::new(), tracefs: true, cache: Mutex::default() }
    }

    /// Formats from copies of tracefs `events/` trees, in order, then (if `tracefs`) from tracefs.
    pub fn dirs(dirs: impl IntoIterator<Item = PathBuf>, tracefs: bool) -> TpFormats {
        TpFormats { dirs: dirs.into_iter().collect(), tracefs, cache: Mutex::default() }
    }

    /// The format of `category:name`.
    pub fn get(&self, category: &str, name: &str) -> Result<Arc<TracepointFormat>, FormatError> {
        let key = (category.to_string(), name.to_string());
        if let Some(f) = self.cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(f.clone());
        }
        let mut searched = Vec::new();
        let mut candidates: Vec<PathBuf> = self.dirs.clone();
        let mut tracefs_err = None;
        if self.tracefs {
            match tracefs_root() {
                Ok(root) => candidates.push(root.join("events")),
                Err(e) => tracefs_err = Some(e.to_string()),
            }
        }
        for dir in candidates {
            let path = dir.join(category).join(name).join("format");
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let f = Arc::new(
                        TracepointFormat::parse(&text)
                            .map_err(|source| FormatError::Parse { path: path.clone(), source })?,
                    );
                    self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(key, f.clone());
                    return Ok(f);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => searched.push(path.display().to_string()),
                Err(source) => return Err(FormatError::Io { path, source }),
            }
        }
        if let Some(e) = tracefs_err {
            searched.push(e);
        }
        if searched.is_empty() {
            searched.push("no directories".into());
        }
        Err(FormatError::NotFound { category: category.into(), name: name.into(), searched: searched.join(", ") })
    }
}
