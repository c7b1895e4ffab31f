//! Reader of bpf_conformance `.data` files, exactly as /work/shared/conformance/README.md specifies:
//! `#` comments stripped first on every line, sections started by `-- name` lines, `-- raw` winning over
//! `-- asm`, two raw layouts (64-bit numbers in `tests/`, lines of eight byte tokens in `negative/`),
//! `-- mem` as hex byte tokens, `-- result` as the last non-empty line (hex when it contains `0x`),
//! `-- error` marking a program that must be rejected; `-- c` and `-- no register offset` ignored, any
//! other section an error (upstream skips such files with "Unknown directive").

use bpfc_runtime::isa::assemble;
use std::path::{Path, PathBuf};

/// A parse error naming the file and the 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// The file or folder could not be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A folder holds no `.data` files.
    #[error("{path}: no .data files")]
    EmptyDir {
        /// The folder.
        path: PathBuf,
    },
    /// Malformed content.
    #[error("{name}:{line}: {message}")]
    Syntax {
        /// Case name (file stem).
        name: String,
        /// 1-based line (0 when the problem is the file as a whole).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// What a case expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Normal exit with this full 64-bit r0.
    Result(u64),
    /// Rejection before execution, or a trap.
    Error,
}

/// One conformance test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Case {
    /// The file stem, e.g. `add`.
    pub name: String,
    /// Bytecode (from `-- raw` if present, else assembled from `-- asm`).
    pub code: Vec<u8>,
    /// Input memory (`-- mem`), passed as r1/r2; empty when absent.
    pub mem: Vec<u8>,
    /// The expectation.
    pub expected: Expected,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    Asm,
    Raw,
    Mem,
    Result,
    Error,
    Ignored,
}

/// Parses the text of one `.data` file; `name` is used in the case and in errors.
pub fn parse(name: &str, text: &str) -> Result<Case, ConformanceError> {
    let err = |line: usize, message: String| ConformanceError::Syntax { name: name.to_string(), line, message };
    let mut section = Section::None;
    let mut asm = String::new();
    let mut asm_first_line = 0;
    let mut raw: Option<Vec<u8>> = None;
    let mut mem = Vec::new();
    let mut result: Option<(usize, String)> = None;
    let mut has_result = false;
    let mut has_error = false;
    for (i, full) in text.lines().enumerate() {
        let n = i + 1;
        let line = full.split('#').next().unwrap_or("").trim();
        if let Some(header) = line.strip_prefix("--") {
            section = match header.trim() {
                "asm" => {
                    asm_first_line = n;
                    Section::Asm
                }
                "raw" => {
                    raw.get_or_insert_with(Vec::new);
                    Section::Raw
                }
                "mem" => Section::Mem,
                "result" => {
                    has_result = true;
                    Section::Result
                }
                "error" => {
                    has_error = true;
                    Section::Error
                }
                // Informational (C source) or a uBPF JIT hint: ignored with the text under them.
                "c" | "no register offset" => Section::Ignored,
                other => return Err(err(n, format!("unknown section `-- {other}`"))),
            };
            continue;
        }
        if line.is_empty() {
            if section == Section::Asm {
                asm.push('\n');
            }
            continue;
        }
        match section {
            Section::None => return Err(err(n, format!("content before the first section: `{line}`"))),
            Section::Asm => {
                asm.push_str(line);
                asm.push('\n');
            }
            Section::Raw => {
                let bytes = raw.get_or_insert_with(Vec::new);
                let tokens: Vec<&str> = line.split_whitespace().collect();
                let byte_line =
                    tokens.len() == 8 && tokens.iter().all(|t| t.len() == 2 && u8::from_str_radix(t, 16).is_ok());
                if byte_line {
                    bytes.extend(tokens.iter().map(|t| u8::from_str_radix(t, 16).unwrap_or(0)));
                } else {
                    for t in tokens {
                        let v = parse_u64(t).ok_or_else(|| err(n, format!("bad raw instruction `{t}`")))?;
                        bytes.extend_from_slice(&v.to_le_bytes());
                    }
                }
            }
            Section::Mem => {
                for t in line.split_whitespace() {
                    let b = (t.len() == 2).then(|| u8::from_str_radix(t, 16).ok()).flatten();
                    mem.push(b.ok_or_else(|| err(n, format!("bad memory byte `{t}`")))?);
                }
            }
            Section::Result => result = Some((n, line.to_string())),
            Section::Error | Section::Ignored => {}
        }
    }
    let expected = if has_error {
        Expected::Error
    } else if has_result {
        let (n, text) = result.ok_or_else(|| err(0, "empty `-- result` section".into()))?;
        Expected::Result(parse_result(&text).ok_or_else(|| err(n, format!("bad result `{text}`")))?)
    } else {
        return Err(err(0, "neither `-- result` nor `-- error`".into()));
    };
    let code = match raw {
        Some(bytes) => bytes,
        None if asm_first_line > 0 => assemble(&asm).map_err(|e| err(asm_first_line + e.line, e.message))?,
        None => return Err(err(0, "neither `-- asm` nor `-- raw`".into())),
    };
    Ok(Case { name: name.to_string(), code, mem, expected })
}

/// A raw token: hex with `0x`, else decimal.
fn parse_u64(t: &str) -> Option<u64> {
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse().ok(),
    }
}

/// The result value: hex when it contains `0x` (upstream's rule), else decimal (a leading `-` allowed,
/// taken as the 64-bit two's complement).
fn parse_result(t: &str) -> Option<u64> {
    if let Some(pos) = t.find("0x") {
        return u64::from_str_radix(&t[pos + 2..], 16).ok();
    }
    t.parse::<u64>().ok().or_else(|| t.parse::<i64>().ok().map(|v| v as u64))
}

/// Reads and parses one file; the case is named after the file stem.
pub fn parse_file(path: &Path) -> Result<Case, ConformanceError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConformanceError::Io { path: path.into(), source })?;
    let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    parse(&name, &text)
}

/// The `.data` files of a folder, sorted by name. A missing folder, or one without `.data` files, is an
/// error: a test run over nothing must not look like a pass.
pub fn data_files(dir: &Path) -> Result<Vec<PathBuf>, ConformanceError> {
    let io = |source| ConformanceError::Io { path: dir.into(), source };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "data") && path.is_file() {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(ConformanceError::EmptyDir { path: dir.into() });
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_raw_layouts_and_comments() {
        let c = parse("t", "# c\n-- raw\n0x5566778800000018 # lddw\n0x1122334400000000\n0x95\n-- result\n0x00ff\n")
            .unwrap();
        assert_eq!(&c.code[..8], &[0x18, 0, 0, 0, 0x88, 0x77, 0x66, 0x55]);
        assert_eq!(&c.code[16..], &[0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(c.expected, Expected::Result(0xff));
        let c = parse("t", "-- raw\n07 00 01 00 01 00 00 00\n95 00 00 00 00 00 00 00\n-- error\n").unwrap();
        assert_eq!(c.code, [7, 0, 1, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(c.expected, Expected::Error);
    }

    #[test]
    fn asm_mem_and_decimal_result() {
        let c = parse("t", "-- asm\nldxb %r0, [%r1+1]\n\nexit\n-- mem\naa BB\n cc\n-- result\n\n  12\n\n").unwrap();
        assert_eq!(c.mem, [0xaa, 0xbb, 0xcc]);
        assert_eq!(c.expected, Expected::Result(12));
        assert_eq!(c.code.len(), 16);
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("t", "-- asm\nmov %r0, 1\nbogus %r1\nexit\n-- result\n1\n").unwrap_err();
        assert!(e.to_string().starts_with("t:3: "), "{e}");
        assert!(parse("t", "-- asm\nexit\n").is_err());
        assert!(parse("t", "-- mem\nzz\n-- asm\nexit\n-- result\n0\n").is_err());
        assert!(parse("t", "-- wat\n").is_err());
    }
}
