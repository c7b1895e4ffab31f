//! A small rig for running BPF programs that use maps and helpers on the interpreter: maps in a
//! registry, the Linux helper table, a [`HostState`], and assembly in the conformance dialect where
//! `lddw %rN, 0x4d4150000000000I` stands for "the handle of map I" (`BPF_PSEUDO_MAP_IDX`) and
//! `lddw %rN, 0x4d4156000000000I` for "the value of map I" (`BPF_PSEUDO_MAP_IDX_VALUE`), since the
//! assembler has no map syntax.

use std::ffi::c_void;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use bpfc_runtime::abi::{EventMeta, Region};
use bpfc_runtime::exec::{Machine, Outcome, run_interp};
use bpfc_runtime::helpers::{HelperTable, HostState, linux_helpers};
use bpfc_runtime::isa::{self, Code, Imm64, Insn, Located};
use bpfc_runtime::maps::{MapRegistry, MapSpec};

/// Sentinel prefix of a map-handle `lddw`.
pub const MAP_SENTINEL: u64 = 0x4d41_5000_0000_0000;
/// Sentinel prefix of a map-value `lddw`.
pub const MAP_VALUE_SENTINEL: u64 = 0x4d41_5600_0000_0000;

/// Maps, helpers and host state for one test.
pub struct Rig {
    /// The host state (owns the registry).
    pub host: Arc<HostState>,
    /// Fds of the maps, by map index.
    pub fds: Vec<u32>,
    /// The helper table.
    pub helpers: HelperTable,
    /// Handle addresses by map index.
    pub handles: Vec<u64>,
    /// Value-0 addresses by map index (0 when none).
    pub values: Vec<u64>,
    /// Regions of every map.
    pub regions: Vec<Region>,
}

impl Rig {
    /// Creates the maps (inner map templates must come before the maps that refer to them by fd).
    pub fn new(specs: Vec<MapSpec>) -> Result<Rig> {
        Rig::with_registry(Arc::new(MapRegistry::new()), specs)
    }

    /// Creates the maps in `reg`.
    pub fn with_registry(reg: Arc<MapRegistry>, specs: Vec<MapSpec>) -> Result<Rig> {
        let mut fds = Vec::new();
        for s in specs {
            fds.push(reg.create(s.clone()).with_context(|| format!("creating {s:?}"))?);
        }
        let (maps, values) = reg.binding(&fds)?;
        let regions = reg.regions();
        Ok(Rig {
            host: Arc::new(HostState::new(reg)),
            fds,
            helpers: linux_helpers(),
            handles: maps.iter().map(|p| p.expose_provenance() as u64).collect(),
            values: values.iter().map(|p| p.expose_provenance() as u64).collect(),
            regions,
        })
    }

    /// The registry.
    pub fn maps(&self) -> &MapRegistry {
        self.host.maps()
    }

    /// Runs `code` on the interpreter with `ctx` and `event`.
    pub fn run(&self, code: &Code, ctx: &mut [u8], event: EventMeta) -> Outcome {
        let maps: Vec<*mut c_void> =
            self.handles.iter().map(|&a| std::ptr::with_exposed_provenance_mut(a as usize)).collect();
        let values: Vec<*mut u8> =
            self.values.iter().map(|&a| std::ptr::with_exposed_provenance_mut(a as usize)).collect();
        let mut m = Machine::new(&self.helpers);
        m.maps = &maps;
        m.map_values = &values;
        m.regions = &self.regions;
        m.host = self.host.as_host_ptr();
        m.event = event;
        run_interp(&m, code, ctx)
    }
}

/// Assembles conformance-dialect text, turning the sentinel `lddw`s into map references.
pub fn assemble(text: &str) -> Result<Code> {
    let bytes = isa::assemble(text).map_err(|e| anyhow!("assembling: {e}"))?;
    let code = isa::decode(&bytes).map_err(|e| anyhow!("decoding: {e}"))?;
    let insns: Vec<Located> = code
        .insns()
        .iter()
        .map(|l| {
            let insn = match l.insn {
                Insn::LdImm64 { dst, imm: Imm64::Value(v) } if v & !0xffff == MAP_SENTINEL => {
                    Insn::LdImm64 { dst, imm: Imm64::MapIdx((v & 0xffff) as i32) }
                }
                Insn::LdImm64 { dst, imm: Imm64::Value(v) } if v & !0xffff == MAP_VALUE_SENTINEL => {
                    Insn::LdImm64 { dst, imm: Imm64::MapIdxValue { idx: (v & 0xffff) as i32, off: 0 } }
                }
                other => other,
            };
            Located { pc: l.pc, insn }
        })
        .collect();
    Ok(Code::new(insns))
}
