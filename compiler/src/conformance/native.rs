//! Conformance engines for compiled code: the in-process JIT and host AOT objects (built, linked into a
//! `.so` with the system `cc`, loaded with `dlopen`), each in verified-style or checked mode.

use super::run::Engine;
use crate::emit::jit::JitProgram;
use crate::emit::object::{ObjectSource, build_object, link_shared};
use crate::emit::{CodegenOptions, ProgramSource};
use crate::lower::LowerOptions;
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::exec::{Machine, Outcome};
use bpfc_runtime::helpers::{HelperTable, conformance::conformance_helpers};
use bpfc_runtime::isa::Code;
use bpfc_runtime::native::NativeLibrary;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

fn options(checked: bool, pic: bool) -> CodegenOptions {
    CodegenOptions { lower: LowerOptions { checked, maps: vec![] }, target: None, verify_ir: true, pic }
}

fn source(code: &Code) -> ProgramSource<'_> {
    ProgramSource { name: "main", section: "", prog_type: ProgType::Unspec, code }
}

/// Cranelift JIT in this process.
#[derive(Debug)]
pub struct JitEngine {
    helpers: HelperTable,
    checked: bool,
}

impl JitEngine {
    /// A JIT engine; `checked` bounds-checks every access.
    pub fn new(checked: bool) -> JitEngine {
        JitEngine { helpers: conformance_helpers(), checked }
    }
}

impl Engine for JitEngine {
    fn name(&self) -> &str {
        if self.checked { "jit-checked" } else { "jit" }
    }

    fn run(&self, code: &Code, mem: &mut [u8]) -> Result<Outcome, String> {
        let prog =
            JitProgram::compile(&[source(code)], &options(self.checked, false), false).map_err(|e| e.to_string())?;
        prog.run("main", &Machine::new(&self.helpers), mem).ok_or_else(|| "entry `main` missing".to_string())
    }
}

/// A native object for the host, linked into a shared library and loaded with `dlopen`.
#[derive(Debug)]
pub struct AotEngine {
    helpers: HelperTable,
    checked: bool,
}

impl AotEngine {
    /// An AOT engine; `checked` bounds-checks every access.
    pub fn new(checked: bool) -> AotEngine {
        AotEngine { helpers: conformance_helpers(), checked }
    }
}

/// A unique scratch path for build products.
pub fn scratch_path(stem: &str, ext: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("bpfc-{}-{stem}-{n}.{ext}", std::process::id()))
}

impl Engine for AotEngine {
    fn name(&self) -> &str {
        if self.checked { "aot-checked" } else { "aot" }
    }

    fn run(&self, code: &Code, mem: &mut [u8]) -> Result<Outcome, String> {
        let src = ObjectSource { programs: vec![source(code)], maps: vec![], license: "GPL".into() };
        let built = build_object(&src, &options(self.checked, true), false).map_err(|e| e.to_string())?;
        let obj = scratch_path("case", "o");
        let so = obj.with_extension("so");
        let result = (|| {
            std::fs::write(&obj, &built.bytes).map_err(|e| format!("{}: {e}", obj.display()))?;
            link_shared(&obj, &so, None).map_err(|e| e.to_string())?;
            let lib = NativeLibrary::open(&so).map_err(|e| e.to_string())?;
            lib.run("main", &Machine::new(&self.helpers), mem).ok_or_else(|| "entry `main` missing".to_string())
        })();
        let _ = std::fs::remove_file(&obj);
        let _ = std::fs::remove_file(&so);
        result
    }
}
