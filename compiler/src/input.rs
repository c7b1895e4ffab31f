//! What `bpfc build`/`run` accept, recognised by content: a clang BPF ELF object, a bpf_conformance
//! `.data` file, or raw little-endian bytecode. Every form becomes a list of decoded programs.

use crate::conformance::{ConformanceError, parse_file};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::isa::{Code, DecodeError, decode};
use std::path::{Path, PathBuf};

/// One program of an input file.
#[derive(Clone, Debug)]
pub struct InputProgram {
    /// Program name (a C function name, or the file stem for raw bytecode).
    pub name: String,
    /// ELF section (empty for raw bytecode).
    pub section: String,
    /// Program type.
    pub prog_type: ProgType,
    /// Linked, decoded code.
    pub code: Code,
}

/// A loaded input file.
#[derive(Clone, Debug)]
pub struct Input {
    /// Its programs.
    pub programs: Vec<InputProgram>,
    /// License string (from the `license` section; "GPL" is assumed for raw bytecode).
    pub license: String,
}

/// Why an input could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Raw bytecode that does not decode.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: DecodeError,
    },
    /// A conformance file that does not parse.
    #[error(transparent)]
    Conformance(#[from] ConformanceError),
    /// An ELF object (not supported by this input path).
    #[error("{path}: ELF objects are read by `compiler::elf`")]
    Elf {
        /// The file.
        path: PathBuf,
    },
}

/// A program name usable in a symbol: ASCII alphanumerics and `_`.
pub fn symbol_name(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Loads raw bytecode or a conformance file.
pub fn load(path: &Path) -> Result<Input, InputError> {
    let io = |source| InputError::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(b"\x7fELF") {
        return Err(InputError::Elf { path: path.to_path_buf() });
    }
    let code_bytes = if path.extension().is_some_and(|e| e == "data") { parse_file(path)?.code } else { bytes };
    let code = decode(&code_bytes).map_err(|source| InputError::Decode { path: path.to_path_buf(), source })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Input {
        programs: vec![InputProgram {
            name: symbol_name(&stem),
            section: String::new(),
            prog_type: ProgType::Unspec,
            code,
        }],
        license: "GPL".to_string(),
    })
}
