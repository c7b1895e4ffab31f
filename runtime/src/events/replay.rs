//! The replay format: JSON Lines, one event per line (docs/events.md has the full description and an
//! example per context kind). Blank lines and lines starting with `#` are skipped.
//!
//! ```text
//! {"pid":7,"tid":7,"uid":0,"gid":0,"cpu":1,"time_ns":5000,"comm":"workload",
//!  "tracepoint":"syscalls:sys_enter_openat","fields":{"dfd":-100,"filename":"0x402010","flags":0},
//!  "memory":[{"addr":"0x402010","string":"/dev/null"}]}
//! {"pid":7,"uprobe":"uprobe_target:compute","regs":{"di":1,"si":"0xfffffff7","ip":"0x401136"}}
//! {"pid":7,"raw_tp":"sys_enter","raw_tp_args":["0xffffc90000a3ff58",39]}
//! {"pid":7,"ctx":"0100000002000000"}
//! ```
//!
//! Every key is checked: an unknown key, an unknown field or register, a value that does not fit, or
//! two context kinds on one line is an error naming the file, the line and the key. The reader needs
//! tracepoint formats ([`TpFormats`]) to lay records out; the writer needs them to name fields. A
//! tracepoint record whose bytes the fields cannot reproduce (stale padding a live record may carry) is
//! written with its exact bytes in `record` (hex) as well, so record → replay → ctx is byte-exact.

use std::io::{BufRead, Write};
use std::sync::Arc;

use serde_json::{Map, Value};

use super::formats::{FormatError, TpFormats, split_tracepoint};
use super::memory::{BlobMemory, merge_reads};
use super::record::{self, RecordError, int_bits};
use super::{Event, EventSource, ProbeKind, comm_bytes, comm_str};
use crate::abi::EventMeta;
use crate::ctx::{Arch, MAX_RAW_TP_ARGS, MAX_SYSCALL_CTX, pt_regs};

/// A bad line of a replay file.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// Reading failed.
    #[error("{file}:{line}: {source}")]
    Io {
        /// File name.
        file: String,
        /// Line.
        line: usize,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a JSON object.
    #[error("{file}:{line}: not a JSON object: {source}")]
    Json {
        /// File name.
        file: String,
        /// Line.
        line: usize,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// A key or value is wrong.
    #[error("{file}:{line}: `{key}`: {message}")]
    Bad {
        /// File name.
        file: String,
        /// Line.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The tracepoint's format is unavailable.
    #[error("{file}:{line}: {source}")]
    Format {
        /// File name.
        file: String,
        /// Line.
        line: usize,
        /// Cause.
        #[source]
        source: FormatError,
    },
    /// A tracepoint field is wrong.
    #[error("{file}:{line}: {source}")]
    Record {
        /// File name.
        file: String,
        /// Line.
        line: usize,
        /// Cause.
        #[source]
        source: RecordError,
    },
}

const META_KEYS: [&str; 7] = ["pid", "tid", "uid", "gid", "cpu", "time_ns", "comm"];
const KEYS: [&str; 17] = [
    "pid",
    "tid",
    "uid",
    "gid",
    "cpu",
    "time_ns",
    "comm",
    "tracepoint",
    "fields",
    "record",
    "regs",
    "arch",
    "raw_tp",
    "raw_tp_args",
    "ctx",
    "memory",
    "kprobe",
];
const MORE_KEYS: [&str; 3] = ["kretprobe", "uprobe", "uretprobe"];

/// Register names of each architecture's `pt_regs`, in layout order, with the x86_64 aliases a user may
/// type (`rdi` for `di`).
fn reg_offset(arch: Arch, name: &str) -> Option<u32> {
    let alias = match (arch, name) {
        (Arch::X86_64, "rax" | "rbx" | "rcx" | "rdx" | "rsi" | "rdi" | "rbp" | "rsp" | "rip") => &name[1..],
        (Arch::X86_64, "eflags") => "flags",
        (Arch::X86_64, "orig_rax") => "orig_ax",
        _ => name,
    };
    if let Some(o) = pt_regs::offset_of(arch, alias) {
        return Some(o);
    }
    // Kernel-only fields after the user-visible registers (arch/arm64/include/asm/ptrace.h,
    // arch/riscv/include/asm/ptrace.h).
    match (arch, name) {
        (Arch::Aarch64, "orig_x0") => Some(34 * 8),
        (Arch::Aarch64, "syscallno") => Some(35 * 8),
        (Arch::Riscv64, "status") => Some(32 * 8),
        (Arch::Riscv64, "badaddr") => Some(33 * 8),
        (Arch::Riscv64, "cause") => Some(34 * 8),
        (Arch::Riscv64, "orig_a0") => Some(35 * 8),
        _ => None,
    }
}

/// The canonical register names of `arch`, in layout order (what the writer prints).
pub fn reg_names(arch: Arch) -> Vec<String> {
    let mut v: Vec<String> = match arch {
        Arch::X86_64 => [
            "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si", "di", "orig_ax",
            "ip", "cs", "flags", "sp", "ss",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        Arch::Aarch64 => {
            let mut v: Vec<String> = (0..31).map(|i| format!("x{i}")).collect();
            v.extend(["sp", "pc", "pstate", "orig_x0", "syscallno"].map(String::from));
            v
        }
        Arch::Riscv64 => [
            "pc", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7",
            "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6", "status", "badaddr",
            "cause", "orig_a0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    };
    v.retain(|n| reg_offset(arch, n).is_some());
    v
}

fn arch_name(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Aarch64 => "aarch64",
        Arch::Riscv64 => "riscv64",
    }
}

/// Bytes as the replay format writes them (`record`, `ctx`, memory `bytes`): two hex digits per byte, no
/// separators.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !s.len().is_multiple_of(2) {
        return Err("odd number of hex digits".into());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("`{}` is not hex", &s[i..i + 2])))
        .collect()
}

/// Reads events from a replay file.
pub struct ReplayReader<'f, R> {
    input: R,
    file: String,
    line: usize,
    formats: &'f TpFormats,
    buf: String,
}

impl<'f, R: BufRead> ReplayReader<'f, R> {
    /// Reads `input`, naming it `file` in errors.
    pub fn new(input: R, file: impl Into<String>, formats: &'f TpFormats) -> ReplayReader<'f, R> {
        ReplayReader { input, file: file.into(), line: 0, formats, buf: String::new() }
    }
}

impl<R: BufRead> Iterator for ReplayReader<'_, R> {
    type Item = Result<Event, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            self.line += 1;
            match self.input.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(source) => return Some(Err(ReplayError::Io { file: self.file.clone(), line: self.line, source })),
            }
            let t = self.buf.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            return Some(parse_line(t, &self.file, self.line, self.formats));
        }
    }
}

/// The `time_ns` of an event that gives none is this plus 1 µs per line number (1-based).
pub const DEFAULT_TIME_NS: u64 = 1_000_000_000;

/// Parses a whole replay text (all events, or the first error).
pub fn parse_str(text: &str, file: &str, formats: &TpFormats) -> Result<Vec<Event>, ReplayError> {
    ReplayReader::new(text.as_bytes(), file, formats).collect()
}

/// Parses one line (1-based `line`) of a replay file.
pub fn parse_line(text: &str, file: &str, line: usize, formats: &TpFormats) -> Result<Event, ReplayError> {
    let bad = |key: &str, message: String| ReplayError::Bad { file: file.into(), line, key: key.into(), message };
    let obj: Map<String, Value> = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o,
        Ok(_) => return Err(bad("", "a line must be a JSON object".into())),
        Err(source) => return Err(ReplayError::Json { file: file.into(), line, source }),
    };
    for k in obj.keys() {
        if !KEYS.contains(&k.as_str()) && !MORE_KEYS.contains(&k.as_str()) {
            return Err(bad(k, format!("unknown key (known: {}, {})", KEYS.join(", "), MORE_KEYS.join(", "))));
        }
    }
    let int = |key: &str, size: u32| -> Result<Option<u64>, ReplayError> {
        obj.get(key).map(|v| int_bits(v, size).map_err(|m| bad(key, m))).transpose()
    };
    let mut meta = EventMeta::default();
    meta.pid = int("pid", 4)?.unwrap_or(0) as u32;
    meta.tid = int("tid", 4)?.map_or(meta.pid, |v| v as u32);
    meta.uid = int("uid", 4)?.unwrap_or(0) as u32;
    meta.gid = int("gid", 4)?.unwrap_or(0) as u32;
    meta.cpu = int("cpu", 4)?.unwrap_or(0) as u32;
    // Without a time the event still gets a fixed one, from its line: replays must be reproducible, and
    // 0 would make the clock helpers read the clock at run time.
    meta.time_ns = int("time_ns", 8)?.unwrap_or(DEFAULT_TIME_NS + 1_000 * line as u64);
    if let Some(c) = obj.get("comm") {
        let s = c.as_str().ok_or_else(|| bad("comm", "expected a string".into()))?;
        meta.comm = comm_bytes(s).ok_or_else(|| bad("comm", format!("`{s}` is longer than 15 bytes or has a NUL")))?;
    }

    let probe_keys: Vec<ProbeKind> = ProbeKind::ALL.into_iter().filter(|k| obj.contains_key(k.name())).collect();
    let kinds = [
        obj.contains_key("tracepoint"),
        obj.contains_key("regs"),
        obj.contains_key("raw_tp_args"),
        obj.contains_key("ctx"),
    ];
    if kinds.iter().filter(|&&k| k).count() != 1 {
        return Err(bad(
            "",
            "each line needs exactly one context: `tracepoint` + `fields`, `regs` (with `kprobe`, `kretprobe`, \
             `uprobe` or `uretprobe`), `raw_tp` + `raw_tp_args`, or `ctx` (a syscall program's context)"
                .into(),
        ));
    }
    let only = |allowed: &[&str], what: &str| -> Result<(), ReplayError> {
        for k in obj.keys() {
            if !META_KEYS.contains(&k.as_str()) && k != "memory" && !allowed.contains(&k.as_str()) {
                return Err(bad(k, format!("not allowed on a {what} line")));
            }
        }
        Ok(())
    };

    let (source, ctx) = if let Some(tp) = obj.get("tracepoint") {
        only(&["tracepoint", "fields", "record"], "tracepoint")?;
        let spec = tp.as_str().ok_or_else(|| bad("tracepoint", "expected \"CATEGORY:NAME\"".into()))?;
        let (category, name) =
            split_tracepoint(spec).map_err(|source| ReplayError::Format { file: file.into(), line, source })?;
        let format =
            formats.get(category, name).map_err(|source| ReplayError::Format { file: file.into(), line, source })?;
        let empty = Map::new();
        let fields = match obj.get("fields") {
            None => &empty,
            Some(Value::Object(m)) => m,
            Some(_) => return Err(bad("fields", "expected an object of field values".into())),
        };
        let base = match obj.get("record") {
            None => None,
            Some(Value::String(s)) => Some(unhex(s).map_err(|m| bad("record", m))?),
            Some(_) => return Err(bad("record", "expected a hex string".into())),
        };
        let ctx = record::build(&format, &meta, base.as_deref(), fields).map_err(|source| ReplayError::Record {
            file: file.into(),
            line,
            source,
        })?;
        (EventSource::Tracepoint { category: category.into(), name: name.into(), format }, ctx)
    } else if let Some(regs) = obj.get("regs") {
        let mut allowed = vec!["regs", "arch"];
        allowed.extend(ProbeKind::ALL.map(ProbeKind::name));
        only(&allowed, "pt_regs")?;
        if probe_keys.len() > 1 {
            return Err(bad(probe_keys[1].name(), "more than one probe on a line".into()));
        }
        let arch = match obj.get("arch").map(|a| a.as_str()) {
            None => Arch::host(),
            Some(Some("x86_64")) => Arch::X86_64,
            Some(Some("aarch64" | "arm64")) => Arch::Aarch64,
            Some(Some("riscv64")) => Arch::Riscv64,
            Some(_) => return Err(bad("arch", "expected \"x86_64\", \"aarch64\" or \"riscv64\"".into())),
        };
        let attach = match probe_keys.first() {
            None => None,
            Some(&k) => {
                let t = obj[k.name()].as_str().filter(|s| !s.is_empty());
                let t = t.ok_or_else(|| bad(k.name(), "expected a function name or \"PATH:SYMBOL\"".into()))?;
                if matches!(k, ProbeKind::Uprobe | ProbeKind::Uretprobe) && !t.contains(':') {
                    return Err(bad(k.name(), format!("`{t}` is not \"PATH:SYMBOL\"")));
                }
                Some((k, t.to_string()))
            }
        };
        let Value::Object(regs) = regs else { return Err(bad("regs", "expected an object of registers".into())) };
        let mut ctx = vec![0u8; pt_regs::kernel_size(arch) as usize];
        for (name, v) in regs {
            let off = reg_offset(arch, name).ok_or_else(|| {
                bad(
                    "regs",
                    format!(
                        "no register `{name}` in {} pt_regs (registers: {})",
                        arch_name(arch),
                        reg_names(arch).join(", ")
                    ),
                )
            })? as usize;
            let bits = int_bits(v, 8).map_err(|m| bad("regs", format!("`{name}`: {m}")))?;
            ctx[off..off + 8].copy_from_slice(&bits.to_ne_bytes());
        }
        (EventSource::Probe { attach, arch }, ctx)
    } else if let Some(c) = obj.get("ctx") {
        only(&["ctx"], "syscall program context")?;
        let ctx = match c {
            Value::String(h) => unhex(h).map_err(|m| bad("ctx", m))?,
            _ => return Err(bad("ctx", "expected a hex string".into())),
        };
        if ctx.len() > MAX_SYSCALL_CTX {
            return Err(bad("ctx", format!("{} bytes; at most {MAX_SYSCALL_CTX}", ctx.len())));
        }
        (EventSource::Syscall, ctx)
    } else {
        only(&["raw_tp", "raw_tp_args"], "raw tracepoint")?;
        let name = obj.get("raw_tp").and_then(Value::as_str).filter(|s| !s.is_empty());
        let name =
            name.ok_or_else(|| bad("raw_tp", "a raw_tp_args line needs `raw_tp`: the tracepoint name".into()))?;
        let Some(Value::Array(args)) = obj.get("raw_tp_args") else {
            return Err(bad("raw_tp_args", "expected an array of integers".into()));
        };
        if args.len() > MAX_RAW_TP_ARGS as usize {
            return Err(bad("raw_tp_args", format!("{} arguments; at most {MAX_RAW_TP_ARGS}", args.len())));
        }
        let mut ctx = Vec::with_capacity(args.len() * 8);
        for (i, a) in args.iter().enumerate() {
            let bits = int_bits(a, 8).map_err(|m| bad("raw_tp_args", format!("[{i}]: {m}")))?;
            ctx.extend_from_slice(&bits.to_ne_bytes());
        }
        (EventSource::RawTracepoint { name: name.into() }, ctx)
    };

    let mut memory = BlobMemory::new();
    match obj.get("memory") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let key = format!("memory[{i}]");
                let Value::Object(m) = item else {
                    return Err(bad(&key, "expected {\"addr\", \"bytes\"|\"string\"}".into()));
                };
                if let Some(k) = m.keys().find(|k| !matches!(k.as_str(), "addr" | "bytes" | "string")) {
                    return Err(bad(&key, format!("unknown key `{k}` (known: addr, bytes, string)")));
                }
                let addr = m.get("addr").ok_or_else(|| bad(&key, "no `addr`".into()))?;
                let addr = int_bits(addr, 8).map_err(|e| bad(&key, format!("addr: {e}")))?;
                let bytes = match (m.get("bytes"), m.get("string")) {
                    (Some(Value::String(h)), None) => unhex(h).map_err(|e| bad(&key, format!("bytes: {e}")))?,
                    (None, Some(Value::String(s))) => {
                        let mut b = s.as_bytes().to_vec();
                        b.push(0);
                        b
                    }
                    _ => return Err(bad(&key, "needs one of `bytes` (hex string) or `string`".into())),
                };
                memory.insert(addr, bytes).map_err(|e| bad(&key, e.to_string()))?;
            }
        }
        Some(_) => return Err(bad("memory", "expected an array of blobs".into())),
    }
    Ok(Event { source: Arc::new(source), meta, ctx, memory: Arc::new(memory), line: Some(line) })
}

/// Writes events as replay lines.
pub struct ReplayWriter<W> {
    out: W,
}

impl<W: Write> ReplayWriter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> ReplayWriter<W> {
        ReplayWriter { out }
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    /// Writes `event` as one line, with `reads` (what programs read from its memory, e.g. from a
    /// [`super::RecordingMemory`]) as its `memory` blobs.
    pub fn write(&mut self, event: &Event, reads: &[(u64, Vec<u8>)]) -> std::io::Result<()> {
        let line = to_line(event, reads);
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }
}

fn js(v: &Value) -> String {
    v.to_string()
}

/// One replay line for `event` (without the newline).
pub fn to_line(event: &Event, reads: &[(u64, Vec<u8>)]) -> String {
    let m = &event.meta;
    let mut parts = vec![
        format!("\"pid\":{}", m.pid),
        format!("\"tid\":{}", m.tid),
        format!("\"uid\":{}", m.uid),
        format!("\"gid\":{}", m.gid),
        format!("\"cpu\":{}", m.cpu),
        format!("\"time_ns\":{}", m.time_ns),
        format!("\"comm\":{}", js(&Value::String(comm_str(m)))),
    ];
    match &*event.source {
        EventSource::Tracepoint { category, name, format } => {
            parts.push(format!("\"tracepoint\":{}", js(&Value::String(format!("{category}:{name}")))));
            let (fields, exact) = record::decode(format, m, &event.ctx);
            parts.push(format!("\"fields\":{}", js(&Value::Object(fields))));
            if !exact {
                parts.push(format!("\"record\":\"{}\"", hex(&event.ctx)));
            }
        }
        EventSource::Probe { attach, arch } => {
            if let Some((kind, target)) = attach {
                parts.push(format!("\"{}\":{}", kind.name(), js(&Value::String(target.clone()))));
            }
            parts.push(format!("\"arch\":\"{}\"", arch_name(*arch)));
            let mut regs = Vec::new();
            for name in reg_names(*arch) {
                let Some(off) = reg_offset(*arch, &name) else { continue };
                let Some(b) = event.ctx.get(off as usize..off as usize + 8) else { continue };
                let v = u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
                if v != 0 {
                    regs.push(format!("\"{name}\":\"{v:#x}\""));
                }
            }
            parts.push(format!("\"regs\":{{{}}}", regs.join(",")));
        }
        EventSource::RawTracepoint { name } => {
            parts.push(format!("\"raw_tp\":{}", js(&Value::String(name.clone()))));
            let args: Vec<String> = event
                .ctx
                .chunks_exact(8)
                .map(|c| format!("\"{:#x}\"", u64::from_ne_bytes(c.try_into().unwrap_or([0; 8]))))
                .collect();
            parts.push(format!("\"raw_tp_args\":[{}]", args.join(",")));
        }
        EventSource::Syscall => parts.push(format!("\"ctx\":\"{}\"", hex(&event.ctx))),
    }
    let blobs = merge_reads(reads);
    if !blobs.is_empty() {
        let items: Vec<String> =
            blobs.iter().map(|(a, b)| format!("{{\"addr\":\"{a:#x}\",\"bytes\":\"{}\"}}", hex(b))).collect();
        parts.push(format!("\"memory\":[{}]", items.join(",")));
    }
    format!("{{{}}}", parts.join(","))
}
