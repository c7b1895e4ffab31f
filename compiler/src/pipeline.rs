//! The load pipeline's gate: verify every program of an input before native code is built for it, as the
//! kernel does at `BPF_PROG_LOAD`. Verified programs are compiled without run-time checks; a rejected
//! program is refused with the verifier's message (instruction, C line, register state). `--checked`
//! builds bounds-checked code instead, for debugging programs the verifier rejects; and raw bytecode,
//! which has no program type to verify against, is always built checked.

use crate::input::{Input, InputProgram};
use crate::verify::{Facts, MapDef, Rejection, VerifyInput, verify};
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::ctx::{Arch, CtxLayout};
use bpfc_runtime::events::formats::TpFormats;
use std::collections::BTreeMap;

/// How the programs of an input will be compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Safety {
    /// Every program passed the verifier: no run-time checks.
    Verified,
    /// Bounds-checked at run time (asked for, or raw bytecode without a program type).
    Checked,
}

/// Why an input cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The verifier rejected a program.
    #[error("{0}\n(bpfc build --checked compiles it with run-time bounds checks for debugging)")]
    Rejected(Box<Rejection>),
    /// A program's context layout is unknown (e.g. a tracepoint whose format file is missing).
    #[error("program `{program}`: {message}")]
    NoContext {
        /// Program name.
        program: String,
        /// Why.
        message: String,
    },
}

/// The verifier's view of the input's maps.
pub fn verifier_maps(input: &Input) -> Vec<MapDef> {
    input.maps.iter().map(MapDef::from).collect()
}

/// The context layout of a program: its tracepoint's record (from `formats`), `pt_regs` for probes, and
/// so on.
pub fn ctx_layout(p: &InputProgram, formats: &TpFormats) -> Result<CtxLayout, GateError> {
    let no_ctx = |message: String| GateError::NoContext { program: p.name.clone(), message };
    if p.prog_type == ProgType::Tracepoint {
        // A bare `SEC("tracepoint")` (a tail-call target) gets the kernel's generic record range.
        let rest = p.section.split_once('/').map(|(_, r)| r).unwrap_or("");
        if let Some((category, name)) = rest.split_once('/') {
            let format = formats.get(category, name).map_err(|e| no_ctx(e.to_string()))?;
            return Ok(CtxLayout::for_tracepoint(&format));
        }
    }
    // Program types whose context bpfc does not model (XDP, sockets, ...) get an empty one: programs that
    // never touch their context verify, any context access is rejected.
    Ok(CtxLayout::for_prog_type(p.prog_type, Arch::host()).unwrap_or_else(|| CtxLayout::buffer(0)))
}

/// Verifies one program at `log_level` (0–2).
pub fn verify_program(
    input: &Input,
    index: usize,
    formats: &TpFormats,
    log_level: u32,
) -> Result<Result<Facts, Box<Rejection>>, GateError> {
    let p = &input.programs[index];
    let ctx = ctx_layout(p, formats)?;
    let maps = verifier_maps(input);
    let lines: Option<BTreeMap<usize, String>> = input.object.as_ref().and_then(|o| {
        let prog = o.programs.iter().find(|q| crate::input::symbol_name(&q.name) == p.name)?;
        Some(prog.line_info.iter().map(|l| (l.pc, format!("{}:{}: {}", l.file, l.line, l.text.trim()))).collect())
    });
    Ok(verify(&VerifyInput {
        name: &p.name,
        code: &p.code,
        prog_type: p.prog_type,
        ctx: &ctx,
        maps: &maps,
        map_fds: &[],
        lines: lines.as_ref(),
        gpl: crate::verify::license_is_gpl(&input.license),
        log_level,
    }))
}

/// Decides how `input` may be compiled: `checked` on request or for raw bytecode; otherwise every program
/// must pass the verifier.
pub fn gate(input: &Input, checked: bool, formats: &TpFormats) -> Result<Safety, GateError> {
    if checked || input.programs.iter().any(|p| p.prog_type == ProgType::Unspec) {
        return Ok(Safety::Checked);
    }
    for i in 0..input.programs.len() {
        verify_program(input, i, formats, 0)?.map_err(GateError::Rejected)?;
    }
    Ok(Safety::Verified)
}
