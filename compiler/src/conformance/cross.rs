//! Conformance for native objects of another architecture: every case becomes one program of a single
//! object, which is linked statically with a small C harness (`cross_harness.c`, using `include/bpfc.h`)
//! by Debian's cross gcc and run under qemu-user. The results come back as text and are replayed through
//! the ordinary [`Engine`] interface, so cross targets are judged exactly like the other engines.

use super::parse::Case;
use super::run::Engine;
use crate::emit::object::{ObjectSource, build_object, linker_for};
use crate::emit::{CodegenOptions, ProgramSource};
use crate::lower::LowerOptions;
use bpfc_runtime::abi::{ProgType, STATUS_EXIT, STATUS_RUNNING, STATUS_TAIL_CALL, STATUS_TRAP, TrapInfo};
use bpfc_runtime::exec::Outcome;
use bpfc_runtime::isa::{Cfg, Code, decode};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

const HEADER: &str = include_str!("../../../include/bpfc.h");
const HARNESS: &str = include_str!("cross_harness.c");

/// A case by its bytecode and input memory.
type CaseKey = (Vec<u8>, Vec<u8>);

/// Results computed ahead by running all cases on the target at once.
#[derive(Debug)]
pub struct CrossEngine {
    name: String,
    /// (code bytes, input memory) → (outcome, memory afterwards).
    results: HashMap<CaseKey, (Outcome, Vec<u8>)>,
}

/// The qemu-user binary for a target triple's architecture, or `None` for the host.
pub fn qemu_for(target: &str) -> Option<String> {
    let arch = target.split('-').next().unwrap_or(target);
    let arch = if arch == "riscv64gc" { "riscv64" } else { arch };
    (arch != std::env::consts::ARCH).then(|| format!("qemu-{arch}"))
}

fn run_tool(cmd: &mut Command) -> Result<String, String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().map_err(|e| format!("{shown}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{shown}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl CrossEngine {
    /// Builds all `cases` for `target`, runs them there and keeps the results.
    pub fn prepare(cases: &[Case], target: &str, checked: bool, scratch: &Path) -> Result<CrossEngine, String> {
        let decoded: Vec<Option<Code>> =
            cases.iter().map(|c| decode(&c.code).ok().filter(|code| Cfg::new(code).is_ok())).collect();
        let names: Vec<String> = (0..cases.len()).map(|i| format!("case_{i}")).collect();
        let runnable: Vec<usize> = (0..cases.len()).filter(|&i| decoded[i].is_some()).collect();
        let programs: Vec<ProgramSource<'_>> = runnable
            .iter()
            .map(|&i| ProgramSource {
                name: &names[i],
                section: "",
                prog_type: ProgType::Unspec,
                code: decoded[i].as_ref().expect("runnable"),
            })
            .collect();
        let opts = CodegenOptions {
            lower: LowerOptions { checked, maps: vec![] },
            target: Some(target.to_string()),
            verify_ir: true,
            pic: false,
        };
        let built = build_object(&ObjectSource { programs, maps: vec![], license: "GPL".into() }, &opts, false)
            .map_err(|e| e.to_string())?;
        std::fs::create_dir_all(scratch).map_err(|e| e.to_string())?;
        let write = |name: &str, bytes: &[u8]| {
            std::fs::write(scratch.join(name), bytes).map_err(|e| format!("{}: {e}", scratch.join(name).display()))
        };
        write("bpfc.h", HEADER.as_bytes())?;
        write("harness.c", HARNESS.as_bytes())?;
        write("cases.o", &built.bytes)?;
        let mut input = (runnable.len() as u32).to_le_bytes().to_vec();
        for &i in &runnable {
            input.extend_from_slice(&(cases[i].mem.len() as u32).to_le_bytes());
            input.extend_from_slice(&cases[i].mem);
        }
        write("cases.bin", &input)?;
        let exe = scratch.join("harness");
        run_tool(
            Command::new(linker_for(Some(target)))
                .args(["-static", "-O1", "-std=c11", "-o"])
                .arg(&exe)
                .arg("-I")
                .arg(scratch)
                .arg(scratch.join("harness.c"))
                .arg(scratch.join("cases.o")),
        )?;
        let output = match qemu_for(target) {
            Some(qemu) => run_tool(Command::new(qemu).arg(&exe).arg(scratch.join("cases.bin")))?,
            None => run_tool(Command::new(&exe).arg(scratch.join("cases.bin")))?,
        };
        let mut results = HashMap::new();
        let lines: Vec<&str> = output.lines().collect();
        if lines.len() != runnable.len() {
            return Err(format!("harness printed {} results for {} programs", lines.len(), runnable.len()));
        }
        for (line, &i) in lines.iter().zip(&runnable) {
            let (outcome, mem) = parse_line(line).ok_or_else(|| format!("bad harness line `{line}`"))?;
            results.insert((cases[i].code.clone(), cases[i].mem.clone()), (outcome, mem));
        }
        let mode = if checked { "-checked" } else { "" };
        Ok(CrossEngine { name: format!("aot{mode}@{target}"), results })
    }
}

fn parse_line(line: &str) -> Option<(Outcome, Vec<u8>)> {
    let f: Vec<&str> = line.split(' ').collect();
    let [_, status, r0, code, pc, detail, mem] = f[..] else { return None };
    let status: u64 = status.parse().ok()?;
    let r0: u64 = r0.parse().ok()?;
    let outcome = match status {
        STATUS_RUNNING | STATUS_EXIT => Outcome::Exit(r0),
        STATUS_TAIL_CALL => return None,
        STATUS_TRAP => Outcome::Trap(TrapInfo {
            code: code.parse().ok()?,
            pc: pc.parse().ok()?,
            detail: detail.parse().ok()?,
            access: 0,
        }),
        _ => return None,
    };
    let mem = if mem == "-" {
        Vec::new()
    } else {
        (0..mem.len() / 2).map(|i| u8::from_str_radix(&mem[2 * i..2 * i + 2], 16)).collect::<Result<_, _>>().ok()?
    };
    Some((outcome, mem))
}

impl Engine for CrossEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&self, code: &Code, mem: &mut [u8]) -> Result<Outcome, String> {
        Cfg::new(code).map_err(|e| e.to_string())?;
        let key = (code.to_bytes(), mem.to_vec());
        let (outcome, after) = self.results.get(&key).ok_or("case was not built for the target")?;
        if after.len() == mem.len() {
            mem.copy_from_slice(after);
        }
        Ok(*outcome)
    }
}
