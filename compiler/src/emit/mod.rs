//! Emitting native code for lowered programs: in process ([`jit`]) or as a relocatable object
//! ([`object`]) for any Cranelift target, plus the textual forms (`--emit clif|asm`).
//!
//! Both paths share [`define_program`]: declare every function first (so `FuncId`s exist for calls), lower
//! with those ids, then compile each function through `cranelift-module`. Symbol order is the program and
//! slot order, so output is deterministic.

pub mod jit;
pub mod object;

use crate::lower::{self, FunctionIds, LowerError, LowerOptions};
use bpfc_runtime::abi::{self, ProgType};
use bpfc_runtime::isa::Code;
use cranelift_codegen::Context;
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_module::{FuncId, Linkage, Module};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// One program to compile.
#[derive(Clone, Copy, Debug)]
pub struct ProgramSource<'a> {
    /// Program (function) name; the entry symbol is `bpfc_prog_<name>`.
    pub name: &'a str,
    /// ELF section it came from (empty for raw bytecode).
    pub section: &'a str,
    /// Program type.
    pub prog_type: ProgType,
    /// Linked, decoded code.
    pub code: &'a Code,
}

/// A map to describe in a native object's descriptor (the runtime's declaration type).
pub use bpfc_runtime::bind::MapDecl;

/// Code generation options.
#[derive(Clone, Debug, Default)]
pub struct CodegenOptions {
    /// Lowering options (checked mode, map count).
    pub lower: LowerOptions,
    /// Target triple; `None` means the host.
    pub target: Option<String>,
    /// Run Cranelift's IR verifier on every function (tests and debug builds do).
    pub verify_ir: bool,
    /// Position-independent code (needed to link a shared library).
    pub pic: bool,
}

/// Why code could not be emitted.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The target triple is unknown or unsupported by this Cranelift build.
    #[error("target `{target}`: {message}")]
    Target {
        /// The requested triple.
        target: String,
        /// Why it is unsupported.
        message: String,
    },
    /// Lowering failed.
    #[error("program `{program}`: {source}")]
    Lower {
        /// Program name.
        program: String,
        /// The cause.
        #[source]
        source: LowerError,
    },
    /// Cranelift failed to compile or define a function (a bpfc bug or an implementation limit).
    #[error("program `{program}`: code generation: {message}")]
    Codegen {
        /// Program name.
        program: String,
        /// Cranelift's message.
        message: String,
    },
    /// Writing the object failed.
    #[error("writing object: {message}")]
    Object {
        /// The cause.
        message: String,
    },
    /// Linking a shared library failed.
    #[error("linking `{output}` with `{linker}`: {message}")]
    Link {
        /// Output path.
        output: String,
        /// Linker command.
        linker: String,
        /// Its output.
        message: String,
    },
}

/// Builds the Cranelift ISA for `target` (host when `None`).
pub fn target_isa(target: Option<&str>, pic: bool) -> Result<OwnedTargetIsa, EmitError> {
    let name = target.unwrap_or("host").to_string();
    let err = |message: String| EmitError::Target { target: name.clone(), message };
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").map_err(|e| err(e.to_string()))?;
    flags.set("is_pic", if pic { "true" } else { "false" }).map_err(|e| err(e.to_string()))?;
    flags
        .set("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" })
        .map_err(|e| err(e.to_string()))?;
    let builder = match target {
        None => cranelift_native::builder().map_err(|e| err(e.to_string()))?,
        Some(t) => {
            let triple: target_lexicon::Triple = t.parse().map_err(|e| err(format!("{e}")))?;
            if triple.pointer_width().map(|w| w.bits()) != Ok(64) {
                return Err(err("bpfc targets 64-bit machines only".to_string()));
            }
            cranelift_codegen::isa::lookup(triple).map_err(|e| err(e.to_string()))?
        }
    };
    builder.finish(settings::Flags::new(flags)).map_err(|e| err(e.to_string()))
}

/// Symbol of a program's entry.
pub fn entry_symbol(name: &str) -> String {
    format!("{}{name}", abi::PROG_SYMBOL_PREFIX)
}

/// What `define_program` produced.
pub(crate) struct DefinedProgram {
    pub entry: FuncId,
    /// Callback trampolines (helper ABI), in `lower::callback_targets` order.
    pub callbacks: Vec<FuncId>,
    pub helpers_used: BTreeSet<u32>,
    /// Per function: the compiled machine-code listing, when requested.
    pub asm: Vec<(String, String)>,
}

/// Declares, lowers and defines one program's functions in `module`.
pub(crate) fn define_program<M: Module>(
    module: &mut M,
    ctx: &mut Context,
    prog: &ProgramSource<'_>,
    opts: &CodegenOptions,
    want_asm: bool,
) -> Result<DefinedProgram, EmitError> {
    let lower_err = |source| EmitError::Lower { program: prog.name.to_string(), source };
    let codegen_err =
        |e: &dyn std::fmt::Display| EmitError::Codegen { program: prog.name.to_string(), message: e.to_string() };
    let cfg = bpfc_runtime::isa::Cfg::new(prog.code).map_err(|e| lower_err(e.into()))?;
    let call_conv = module.isa().default_call_conv();
    let entry = module
        .declare_function(&entry_symbol(prog.name), Linkage::Export, &lower::entry_signature(call_conv))
        .map_err(|e| codegen_err(&e))?;
    let inline = lower::entry_is_inlined(prog.code, &cfg);
    let mut ids = FunctionIds { entry: entry.as_u32(), functions: Vec::new(), callbacks: Vec::new() };
    for (i, f) in cfg.functions().iter().enumerate() {
        if i == 0 && inline {
            ids.functions.push(entry.as_u32());
            continue;
        }
        let name = format!("bpfc_{}_f{}", prog.name, f.start);
        let id = module
            .declare_function(&name, Linkage::Local, &lower::internal_signature(call_conv))
            .map_err(|e| codegen_err(&e))?;
        ids.functions.push(id.as_u32());
    }
    let mut callbacks = Vec::new();
    for pc in lower::callback_targets(prog.code) {
        let name = format!("bpfc_{}_cb{pc}", prog.name);
        let id = module
            .declare_function(&name, Linkage::Local, &lower::helper_signature(call_conv))
            .map_err(|e| codegen_err(&e))?;
        ids.callbacks.push((pc, id.as_u32()));
        callbacks.push(id);
    }
    let lowered =
        lower::lower_program(prog.code, &opts.lower, &ids, module.target_config(), call_conv).map_err(lower_err)?;
    if opts.verify_ir {
        lower::verify(&lowered, module.isa().flags()).map_err(lower_err)?;
    }
    let mut asm = Vec::new();
    let mut names: Vec<u32> = if inline {
        ids.functions.clone()
    } else {
        std::iter::once(ids.entry).chain(ids.functions.iter().copied()).collect()
    };
    names.extend(ids.callbacks.iter().map(|&(_, id)| id));
    for (func, id) in lowered.functions.into_iter().zip(names) {
        ctx.clear();
        ctx.func = func;
        ctx.set_disasm(want_asm);
        let func_id = FuncId::from_u32(id);
        module.define_function(func_id, ctx).map_err(|e| codegen_err(&format!("{e:?}")))?;
        if want_asm {
            let text = ctx.compiled_code().and_then(|c| c.vcode.clone()).unwrap_or_default();
            asm.push((module.declarations().get_function_decl(func_id).linkage_name(func_id).into_owned(), text));
        }
    }
    Ok(DefinedProgram { entry, callbacks, helpers_used: lowered.helpers_used, asm })
}

/// The Cranelift IR of every program, as `--emit clif` prints it.
pub fn clif_text(programs: &[ProgramSource<'_>], opts: &CodegenOptions) -> Result<String, EmitError> {
    let isa = target_isa(opts.target.as_deref(), opts.pic)?;
    let mut out = String::new();
    let mut base = 0;
    for prog in programs {
        let cfg = bpfc_runtime::isa::Cfg::new(prog.code)
            .map_err(|e| EmitError::Lower { program: prog.name.to_string(), source: e.into() })?;
        let callbacks = lower::callback_targets(prog.code);
        let ids = FunctionIds::sequential(base, cfg.functions().len(), &callbacks);
        base += 1 + (cfg.functions().len() + callbacks.len()) as u32;
        let lowered =
            lower::lower_program(prog.code, &opts.lower, &ids, isa.frontend_config(), isa.default_call_conv())
                .map_err(|source| EmitError::Lower { program: prog.name.to_string(), source })?;
        let _ = writeln!(out, "; program {} ({} functions)", prog.name, cfg.functions().len());
        for f in &lowered.functions {
            let _ = writeln!(out, "{}", f.display());
        }
    }
    Ok(out)
}

/// Listing of all defined functions' machine code (Cranelift's VCode disassembly).
pub fn format_asm(asm: &[(String, String)]) -> String {
    let mut out = String::new();
    for (name, text) in asm {
        let _ = writeln!(out, "{name}:\n{text}");
    }
    out
}

/// Number of BPF instructions lowered, for throughput figures.
pub fn insn_count(programs: &[ProgramSource<'_>]) -> usize {
    programs.iter().map(|p| p.code.len()).sum()
}
