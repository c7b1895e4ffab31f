//! The verifier corpus format (`testsuite/verifier/*.s`) and the kernel oracle runner.
//!
//! A corpus file is conformance-dialect assembly (`bpfc_runtime::isa::assemble`) behind a header of
//! `;;` lines:
//!
//! ```text
//! ;; desc: what the program does and why it is (un)safe
//! ;; prog: kprobe | tracepoint | raw_tracepoint | perf_event | socket_filter
//! ;; map: NAME TYPE key=K value=V entries=N [flags=F] [readonly] [lock=OFF]
//! ;; expect: accept | reject            (bpfc's verdict)
//! ;; kernel: accept | reject            (only when the kernel's verdict differs; needs `reason:`)
//! ;; reason: why bpfc deliberately differs (also listed in docs/verifier.md)
//! ;; error: SUBSTRING                   (bpfc's rejection must mention this)
//! ```
//!
//! Extensions to the dialect: `lddw %rN, map:NAME` (a map reference, `BPF_PSEUDO_MAP_IDX`),
//! `lddw %rN, mapvalue:NAME+OFF` (`BPF_PSEUDO_MAP_IDX_VALUE`) and `lddw %rN, func:LABEL`
//! (`BPF_PSEUDO_FUNC`). The preprocessor counts slots itself to resolve `func:` labels and replaces
//! the operands by marker constants that are patched after decoding.

use anyhow::{Context, Result, anyhow, bail};
use bpfc_compiler::verify::{MapDef, map_type};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::isa::{Code, Imm64, Insn, Located, assemble, decode, encode};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One corpus program.
#[derive(Clone, Debug)]
pub struct CorpusProgram {
    /// File stem.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Program type.
    pub prog_type: ProgType,
    /// Maps by index.
    pub maps: Vec<MapDef>,
    /// Linked code, or the decoder's refusal (bpfc rejects such programs before verification).
    pub code: Result<Code, String>,
    /// The bytecode (what the kernel gets).
    pub bytes: Vec<u8>,
    /// bpfc must accept.
    pub expect_accept: bool,
    /// The kernel's expected verdict.
    pub kernel_accept: bool,
    /// Why the two differ.
    pub reason: Option<String>,
    /// Substring of bpfc's rejection.
    pub error: Option<String>,
}

const MARK: u64 = 0x5eed_0000_0000_0000;

fn map_type_by_name(s: &str) -> Result<u32> {
    Ok(match s {
        "hash" => map_type::HASH,
        "array" => map_type::ARRAY,
        "prog_array" => map_type::PROG_ARRAY,
        "perf_event_array" => map_type::PERF_EVENT_ARRAY,
        "percpu_hash" => map_type::PERCPU_HASH,
        "percpu_array" => map_type::PERCPU_ARRAY,
        "stack_trace" => map_type::STACK_TRACE,
        "lru_hash" => map_type::LRU_HASH,
        "queue" => map_type::QUEUE,
        "stack" => map_type::STACK,
        "ringbuf" => map_type::RINGBUF,
        _ => bail!("unknown map type `{s}`"),
    })
}

/// Parses a corpus file.
pub fn parse(name: &str, text: &str) -> Result<CorpusProgram> {
    let mut desc = String::new();
    let mut prog_type = None;
    let mut maps = Vec::new();
    let mut expect = None;
    let mut kernel = None;
    let mut reason = None;
    let mut error = None;
    for line in text.lines() {
        let Some(h) = line.trim().strip_prefix(";;") else { continue };
        let Some((k, v)) = h.split_once(':') else { continue };
        let v = v.trim();
        match k.trim() {
            "desc" => desc = v.to_string(),
            "prog" => {
                prog_type = Some(match v {
                    "kprobe" => ProgType::Kprobe,
                    "tracepoint" => ProgType::Tracepoint,
                    "raw_tracepoint" => ProgType::RawTracepoint,
                    "perf_event" => ProgType::PerfEvent,
                    "socket_filter" => ProgType::SocketFilter,
                    _ => bail!("unknown program type `{v}`"),
                })
            }
            "map" => {
                let mut it = v.split_whitespace();
                let mname = it.next().context("map needs a name")?.to_string();
                let t = map_type_by_name(it.next().context("map needs a type")?)?;
                let mut d = MapDef { name: mname, map_type: t, ..MapDef::default() };
                for kv in it {
                    match kv.split_once('=') {
                        Some(("key", n)) => d.key_size = n.parse()?,
                        Some(("value", n)) => d.value_size = n.parse()?,
                        Some(("entries", n)) => d.max_entries = n.parse()?,
                        Some(("flags", n)) => d.flags = n.parse()?,
                        Some(("lock", n)) => d.spin_lock_off = Some(n.parse()?),
                        None if kv == "readonly" => d.readonly = true,
                        _ => bail!("bad map attribute `{kv}`"),
                    }
                }
                maps.push(d);
            }
            "expect" => expect = Some(v == "accept"),
            "kernel" => kernel = Some(v == "accept"),
            "reason" => reason = Some(v.to_string()),
            "error" => error = Some(v.to_string()),
            _ => {}
        }
    }
    let expect_accept = expect.context("missing `;; expect:`")?;
    let prog_type = prog_type.context("missing `;; prog:`")?;
    if kernel.is_some_and(|k| k != expect_accept) && reason.is_none() {
        bail!("`kernel:` differs from `expect:` without a `reason:`");
    }
    // Preprocess: count slots, find labels, replace extended operands.
    let mut labels = HashMap::new();
    let mut slot = 0usize;
    for raw in text.lines() {
        let l = raw.split(['#', ';']).next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        if let Some(lab) = l.strip_suffix(':') {
            labels.insert(lab.to_string(), slot);
            continue;
        }
        slot += if l.starts_with("lddw") { 2 } else { 1 };
    }
    let mut patches: Vec<Imm64> = Vec::new();
    let mut out = String::new();
    for raw in text.lines() {
        let l = raw.split(['#', ';']).next().unwrap_or("").trim();
        let mut line = l.to_string();
        if let Some(rest) = l.strip_prefix("lddw")
            && let Some((reg, op)) = rest.split_once(',')
        {
            let op = op.trim();
            let imm = if let Some(m) = op.strip_prefix("map:") {
                let i = maps.iter().position(|d| d.name == m).ok_or_else(|| anyhow!("unknown map `{m}`"))?;
                Some(Imm64::MapIdx(i as i32))
            } else if let Some(mv) = op.strip_prefix("mapvalue:") {
                let (m, off) = mv.split_once('+').unwrap_or((mv, "0"));
                let i = maps.iter().position(|d| d.name == m).ok_or_else(|| anyhow!("unknown map `{m}`"))?;
                Some(Imm64::MapIdxValue { idx: i as i32, off: off.parse()? })
            } else if let Some(f) = op.strip_prefix("func:") {
                Some(Imm64::Func(*labels.get(f).ok_or_else(|| anyhow!("unknown label `{f}`"))?))
            } else {
                None
            };
            if let Some(imm) = imm {
                line = format!("lddw {}, {:#x}", reg.trim(), MARK | patches.len() as u64);
                patches.push(imm);
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    let bytes = assemble(&out).map_err(|e| anyhow!("{name}: {e}"))?;
    let code = match decode(&bytes) {
        Ok(c) => c,
        Err(e) => {
            if !patches.is_empty() {
                bail!("{name}: {e}");
            }
            return Ok(CorpusProgram {
                name: name.to_string(),
                desc,
                prog_type,
                maps,
                code: Err(e.to_string()),
                bytes,
                expect_accept,
                kernel_accept: kernel.unwrap_or(expect_accept),
                reason,
                error,
            });
        }
    };
    let insns: Vec<Located> = code
        .insns()
        .iter()
        .map(|l| match l.insn {
            Insn::LdImm64 { dst, imm: Imm64::Value(v) } if v & !0xffff == MARK => {
                Located { pc: l.pc, insn: Insn::LdImm64 { dst, imm: patches[(v & 0xffff) as usize] } }
            }
            _ => *l,
        })
        .collect();
    let bytes = encode(&insns);
    let code = decode(&bytes).map_err(|e| anyhow!("{name}: re-decode: {e}"))?;
    Ok(CorpusProgram {
        name: name.to_string(),
        desc,
        prog_type,
        maps,
        code: Ok(code),
        bytes,
        expect_accept,
        kernel_accept: kernel.unwrap_or(expect_accept),
        reason,
        error,
    })
}

impl CorpusProgram {
    /// First slots of all functions when the program takes function addresses (callbacks), else empty.
    pub fn btf_funcs(&self) -> Vec<usize> {
        let Ok(code) = &self.code else { return Vec::new() };
        if !code.insns().iter().any(|l| matches!(l.insn, Insn::LdImm64 { imm: Imm64::Func(_), .. })) {
            return Vec::new();
        }
        match bpfc_runtime::isa::Cfg::new(code) {
            Ok(cfg) => cfg.functions().iter().map(|f| f.start).collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// Reads every `*.s` file of `dir`, sorted by name.
pub fn load_dir(dir: &Path) -> Result<Vec<CorpusProgram>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "s"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)?;
            parse(&p.file_stem().unwrap_or_default().to_string_lossy(), &text)
                .with_context(|| format!("{}", p.display()))
        })
        .collect()
}

/// The kernel's verdict on a program.
#[derive(Clone, Debug)]
pub struct KernelVerdict {
    /// Accepted.
    pub accept: bool,
    /// The kernel's verifier log.
    pub log: String,
}

/// Runs programs through `BPF_PROG_LOAD` on this machine with the small C loader
/// (`testsuite/verifier/kload.c`), built once into `build_dir`.
pub struct KernelOracle {
    loader: PathBuf,
}

impl KernelOracle {
    /// Builds the loader with clang-19 (or cc); Err names what is missing.
    pub fn new(build_dir: &Path) -> Result<KernelOracle> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("verifier/kload.c");
        let loader = build_dir.join("kload");
        let ok = ["clang-19", "cc"]
            .iter()
            .any(|cc| Command::new(cc).args(["-O1", "-o"]).arg(&loader).arg(&src).status().is_ok_and(|s| s.success()));
        if !ok {
            bail!("cannot build {} (no clang-19 or cc)", src.display());
        }
        let o = KernelOracle { loader };
        // Probe: a trivial program must load, or bpf() is unavailable.
        let probe = [0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
        let v = o.load(ProgType::Kprobe, &[], &probe, &[])?;
        if !v.accept {
            bail!("the kernel refuses even `r0 = 0; exit` (no bpf() privileges?): {}", v.log);
        }
        Ok(o)
    }

    /// Loads one program with its maps; `funcs` (first slot of every function) adds BTF func_info,
    /// which the kernel needs for callbacks.
    pub fn load(&self, prog_type: ProgType, maps: &[MapDef], bytes: &[u8], funcs: &[usize]) -> Result<KernelVerdict> {
        let mut input = format!("prog_type {}\n", prog_type as u32);
        if !funcs.is_empty() {
            input += "funcs";
            for f in funcs {
                input += &format!(" {f}");
            }
            input += "\n";
        }
        for m in maps {
            let flags = m.flags | if m.readonly { 0x80 } else { 0 };
            input += &format!("map {} {} {} {} {}\n", m.map_type, m.key_size, m.value_size, m.max_entries, flags);
        }
        input += "insns ";
        for b in bytes {
            input += &format!("{b:02x}");
        }
        input += "\n";
        let mut child = Command::new(&self.loader).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        child.stdin.take().context("stdin")?.write_all(input.as_bytes())?;
        let out = child.wait_with_output()?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (first, log) = text.split_once('\n').unwrap_or((&text, ""));
        match first.split_whitespace().next() {
            Some("ACCEPT") => Ok(KernelVerdict { accept: true, log: log.to_string() }),
            Some("REJECT") => Ok(KernelVerdict { accept: false, log: log.to_string() }),
            _ => bail!("kernel loader failed: {text}"),
        }
    }
}
