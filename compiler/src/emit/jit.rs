//! In-process compilation with cranelift-jit.
//!
//! A [`JitProgram`] owns the `JITModule` that holds its machine code; the entries it hands out are only
//! usable through `&self`, so no code pointer outlives the memory it points into (rbpf's
//! `CraneliftProgram` pattern). This module holds the compiler crate's only `unsafe`: turning the
//! finalized code address into a callable `NativeEntry`, and freeing the code memory on drop.
#![allow(unsafe_code)]

use super::*;
use bpfc_runtime::exec::{Machine, NativeEntry, Outcome, run_native};
use cranelift_jit::{JITBuilder, JITModule};

/// Compiled programs living in this process.
pub struct JitProgram {
    module: Option<JITModule>,
    entries: Vec<(String, NativeEntry)>,
    callbacks: Vec<u64>,
    asm: Vec<(String, String)>,
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entries.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("JitProgram").field("programs", &names).finish()
    }
}

impl JitProgram {
    /// Compiles `programs` for the host.
    pub fn compile(
        programs: &[ProgramSource<'_>],
        opts: &CodegenOptions,
        want_asm: bool,
    ) -> Result<JitProgram, EmitError> {
        if let Some(t) = &opts.target {
            return Err(EmitError::Target {
                target: t.clone(),
                message: "the in-process JIT compiles for the host only; use `bpfc build --target`".into(),
            });
        }
        let isa = target_isa(None, false)?;
        let builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        let mut module = JITModule::new(builder);
        let mut ctx = module.make_context();
        let mut defined = Vec::with_capacity(programs.len());
        let mut asm = Vec::new();
        let mut callback_ids = Vec::new();
        for prog in programs {
            let d = define_program(&mut module, &mut ctx, prog, opts, want_asm)?;
            asm.extend(d.asm);
            callback_ids.extend(d.callbacks);
            defined.push((prog.name.to_string(), d.entry));
        }
        module
            .finalize_definitions()
            .map_err(|e| EmitError::Codegen { program: String::new(), message: e.to_string() })?;
        let entries = defined
            .into_iter()
            .map(|(name, id)| {
                let code = module.get_finalized_function(id);
                // SAFETY: `code` is the finalized entry wrapper emitted by `define_program` with
                // `lower::entry_signature`, i.e. `abi::EntryFn`; its memory is owned by `module`, which
                // `self` keeps alive for as long as the entry can be reached (entries are only lent out
                // through `&self`).
                let entry = unsafe { NativeEntry::from_raw(code) };
                (name, entry)
            })
            .collect();
        let callbacks = callback_ids.into_iter().map(|id| module.get_finalized_function(id) as u64).collect();
        Ok(JitProgram { module: Some(module), entries, callbacks, asm })
    }

    /// The entry of the program called `name`.
    pub fn entry(&self, name: &str) -> Option<&NativeEntry> {
        self.entries.iter().find(|(n, _)| n == name).map(|(_, e)| e)
    }

    /// Program names in compilation order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(n, _)| n.as_str())
    }

    /// Runs the program called `name` on `ctx`.
    pub fn run(&self, name: &str, machine: &Machine<'_>, ctx: &mut [u8]) -> Option<Outcome> {
        self.entry(name).map(|e| run_native(machine, e, ctx))
    }

    /// Addresses of the callback trampolines (helper ABI), for `HostState::allow_native_callbacks`.
    pub fn callbacks(&self) -> &[u64] {
        &self.callbacks
    }

    /// Machine-code listing, when compiled with `want_asm`.
    pub fn asm(&self) -> &[(String, String)] {
        &self.asm
    }
}

impl Drop for JitProgram {
    fn drop(&mut self) {
        self.entries.clear();
        if let Some(module) = self.module.take() {
            // SAFETY: every entry pointing into the module's memory was dropped above and none escaped
            // `self`, so nothing can call into the freed code.
            unsafe { module.free_memory() };
        }
    }
}
