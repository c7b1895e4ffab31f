//! Binding an object to a runtime: create its maps (with their initial contents), and build the tables
//! every invocation points `env` at — map handles, value addresses, memory regions, the Linux helper
//! table and the host state. Then run programs on contexts, dispatching tail calls as the kernel does.
//!
//! One [`Binding`] serves every engine: interpreted programs, JIT code and `dlopen`ed objects all run
//! against the same maps, so their results can be compared map by map. A binding is single-threaded;
//! the maps themselves are thread-safe.

use crate::abi::{EventMeta, MAX_TAIL_CALLS, ProgType, Region};
use crate::exec::{Machine, NativeEntry, Outcome, run_native};
use crate::helpers::{HelperTable, HostState, linux_helpers};
use crate::interp::Program as InterpProgram;
use crate::maps::{Map, MapError, MapRegistry, MapSpec, MapType};
use std::ffi::c_void;
use std::sync::Arc;

/// `BPF_F_RDONLY_PROG`: the program may not write the map (libbpf's `.rodata`).
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;

/// What a map slot of a map-in-map or program array initially holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotRef {
    /// The map with this index in the object.
    Map(u32),
    /// The program with this index in the object.
    Prog(u32),
}

/// A map as an object declares it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapDecl {
    /// Map name.
    pub name: String,
    /// Kernel `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size.
    pub key_size: u32,
    /// Value size.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// Index of the inner map template (map-in-map).
    pub inner_map: Option<u32>,
    /// Initial contents of value 0 (global data).
    pub init: Option<Vec<u8>>,
    /// Initial slots of map-in-map and program arrays.
    pub slots: Vec<(u32, SlotRef)>,
}

/// Why an object could not be bound.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// Creating a map failed.
    #[error("map `{name}`: {source}")]
    Map {
        /// Map name.
        name: String,
        /// The cause.
        #[source]
        source: MapError,
    },
    /// A map refers to a map or program the object does not have.
    #[error("map `{name}`: {what}")]
    BadReference {
        /// Map name.
        name: String,
        /// What is wrong.
        what: String,
    },
}

/// Code a binding can run: interpreted or native.
#[derive(Clone, Copy, Debug)]
pub enum Runnable<'a> {
    /// The reference interpreter on decoded code.
    Interp(&'a InterpProgram),
    /// Native code (JIT or a loaded object).
    Native(&'a NativeEntry),
}

impl Runnable<'_> {
    fn run(&self, m: &Machine<'_>, ctx: &mut [u8]) -> Outcome {
        match self {
            Runnable::Interp(p) => crate::exec::run_program(m, p, ctx),
            Runnable::Native(e) => run_native(m, e, ctx),
        }
    }
}

/// The result of running a program (and the tail calls it made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    /// How the last program of the chain ended.
    pub outcome: Outcome,
    /// Programs run, in order (the first is the one asked for).
    pub chain: Vec<usize>,
}

/// An object's maps and helper environment, ready to run programs.
#[derive(Debug)]
pub struct Binding {
    registry: Arc<MapRegistry>,
    host: Box<HostState>,
    helpers: HelperTable,
    fds: Vec<u32>,
    handles: Vec<*mut c_void>,
    values: Vec<*mut u8>,
    regions: Vec<Region>,
    decls: Vec<MapDecl>,
    zero_stack: std::cell::Cell<bool>,
    /// Per program index: (runs, total ns), collected while enabled — the kernel's `bpf_stats`.
    stats: std::cell::RefCell<Option<Vec<ProgStats>>>,
}

/// Run statistics of one program, as the kernel keeps with `BPF_ENABLE_STATS` (`run_cnt`, `run_time_ns`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgStats {
    /// Invocations (tail-called programs count too).
    pub run_cnt: u64,
    /// Total wall time of those invocations, ns.
    pub run_time_ns: u64,
}

/// Read-only contexts for tracing programs, as the kernel enforces.
pub fn ctx_writable(prog_type: ProgType) -> bool {
    !matches!(
        prog_type,
        ProgType::Kprobe | ProgType::Tracepoint | ProgType::RawTracepoint | ProgType::PerfEvent | ProgType::Tracing
    )
}

impl Binding {
    /// Creates the maps of an object in a fresh registry (one slot per possible CPU for per-CPU maps).
    pub fn new(decls: &[MapDecl]) -> Result<Binding, BindError> {
        Binding::with_registry(decls, Arc::new(MapRegistry::new()))
    }

    /// Creates the maps of an object in `registry`.
    pub fn with_registry(decls: &[MapDecl], registry: Arc<MapRegistry>) -> Result<Binding, BindError> {
        let mut fds: Vec<Option<u32>> = vec![None; decls.len()];
        // Inner map templates first: a map-in-map is created from its template's fd.
        let order: Vec<usize> = (0..decls.len())
            .filter(|&i| decls[i].inner_map.is_none())
            .chain((0..decls.len()).filter(|&i| decls[i].inner_map.is_some()))
            .collect();
        for i in order {
            let d = &decls[i];
            let map_err = |source| BindError::Map { name: d.name.clone(), source };
            let inner_map_fd = match d.inner_map {
                None => None,
                Some(t) => Some(fds.get(t as usize).copied().flatten().ok_or_else(|| BindError::BadReference {
                    name: d.name.clone(),
                    what: format!("inner map template {t} does not exist or is itself a map-in-map"),
                })?),
            };
            let spec = MapSpec {
                name: d.name.clone(),
                map_type: d.map_type,
                key_size: d.key_size,
                value_size: d.value_size,
                max_entries: d.max_entries,
                flags: d.flags,
                inner_map_fd,
                ..MapSpec::default()
            };
            let fd = registry.create(spec).map_err(map_err)?;
            if let Some(init) = &d.init {
                let map = registry.get(fd).map_err(map_err)?;
                let mut value = init.clone();
                value.resize(d.value_size as usize, 0);
                map.update(&0u32.to_le_bytes(), &value, 0).map_err(map_err)?;
            }
            fds[i] = Some(fd);
        }
        let fds: Vec<u32> = fds.into_iter().map(|f| f.expect("every map created")).collect();
        // Initial slots refer to other maps (by fd) and programs (by index).
        for (i, d) in decls.iter().enumerate() {
            for &(slot, r) in &d.slots {
                let value = match r {
                    SlotRef::Map(m) => *fds.get(m as usize).ok_or_else(|| BindError::BadReference {
                        name: d.name.clone(),
                        what: format!("slot {slot} names map {m}, which does not exist"),
                    })?,
                    SlotRef::Prog(p) => p,
                };
                // Through the registry: map-in-map values are map fds it resolves.
                registry
                    .update(fds[i], &slot.to_le_bytes(), &value.to_le_bytes(), 0)
                    .map_err(|source| BindError::Map { name: d.name.clone(), source })?;
            }
        }
        let mut handles = Vec::with_capacity(fds.len());
        let mut values = Vec::with_capacity(fds.len());
        for &fd in &fds {
            let map = registry.get(fd).map_err(|source| BindError::Map { name: format!("fd {fd}"), source })?;
            handles.push(map.handle_addr() as *mut c_void);
            let direct = matches!(map.map_type(), MapType::Array) && map.spec().max_entries > 0;
            values.push(if direct { map.values_base().unwrap_or(0) as *mut u8 } else { std::ptr::null_mut() });
        }
        // Perf event arrays deliver to a consumer the runtime opens on every CPU, as libbpf's perf buffer
        // does; `.rodata` is frozen as libbpf does after filling it.
        for (d, &fd) in decls.iter().zip(&fds) {
            if let Ok(map) = registry.get(fd) {
                if let Some(perf) = map.perf_events() {
                    perf.open_all();
                }
                if d.flags & BPF_F_RDONLY_PROG != 0 {
                    let _ = registry.freeze(fd);
                }
            }
        }
        let regions = registry.regions();
        let host = Box::new(HostState::new(Arc::clone(&registry)));
        host.set_callback_runner(crate::exec::run_callback);
        Ok(Binding {
            registry,
            host,
            helpers: linux_helpers(),
            fds,
            handles,
            values,
            regions,
            decls: decls.to_vec(),
            zero_stack: std::cell::Cell::new(true),
            stats: std::cell::RefCell::new(None),
        })
    }

    /// The machine an invocation on `event` runs against.
    pub fn machine(&self, event: EventMeta, ctx_writable: bool) -> Machine<'_> {
        Machine {
            maps: &self.handles,
            map_values: &self.values,
            regions: &self.regions,
            host: self.host.as_host_ptr(),
            event,
            ctx_writable,
            zero_stack: self.zero_stack.get(),
            ..Machine::new(&self.helpers)
        }
    }

    /// Starts (or stops) collecting per-program run statistics, as `BPF_ENABLE_STATS` does.
    pub fn enable_stats(&self, on: bool) {
        *self.stats.borrow_mut() = on.then(Vec::new);
    }

    /// Statistics per program index (empty unless enabled).
    pub fn stats(&self) -> Vec<ProgStats> {
        self.stats.borrow().clone().unwrap_or_default()
    }

    /// Whether invocations start with a zeroed stack area (default). Only code the verifier accepted may
    /// run without: it never reads stack bytes it did not write.
    pub fn set_zero_stack(&self, zero: bool) {
        self.zero_stack.set(zero);
    }

    /// The helper state (trace output, ring buffers, replayed memory).
    pub fn host(&self) -> &HostState {
        &self.host
    }

    /// The map registry.
    pub fn registry(&self) -> &Arc<MapRegistry> {
        &self.registry
    }

    /// The map with index `i` in the object.
    pub fn map(&self, i: usize) -> Option<Arc<Map>> {
        self.fds.get(i).and_then(|&fd| self.registry.get(fd).ok())
    }

    /// The declarations the binding was made from.
    pub fn decls(&self) -> &[MapDecl] {
        &self.decls
    }

    /// Runs `programs[index]` on `ctx`, following tail calls (at most 33, as the kernel).
    pub fn run(
        &self,
        programs: &[Runnable<'_>],
        index: usize,
        ctx: &mut [u8],
        event: EventMeta,
        ctx_writable: bool,
    ) -> RunReport {
        let mut chain = vec![index];
        let mut current = index;
        let mut count = 0u64;
        loop {
            let machine = Machine { tail_call_count: count, ..self.machine(event, ctx_writable) };
            let started = self.stats.borrow().is_some().then(std::time::Instant::now);
            let outcome = programs[current].run(&machine, ctx);
            if let (Some(t), Some(stats)) = (started, self.stats.borrow_mut().as_mut()) {
                if stats.len() <= current {
                    stats.resize(current + 1, ProgStats::default());
                }
                stats[current].run_cnt += 1;
                stats[current].run_time_ns += t.elapsed().as_nanos() as u64;
            }
            match outcome {
                Outcome::TailCall { target } if (target as usize) < programs.len() && count < MAX_TAIL_CALLS.into() => {
                    count += 1;
                    current = target as usize;
                    chain.push(current);
                }
                other => return RunReport { outcome: other, chain },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::{assemble, decode};

    #[test]
    fn stats_count_runs_only_while_enabled() {
        let code = decode(&assemble("mov %r0, 7\nexit").unwrap()).unwrap();
        let prog = InterpProgram::new(&code).unwrap();
        let binding = Binding::new(&[]).unwrap();
        let programs = [Runnable::Interp(&prog)];
        let run = |b: &Binding| b.run(&programs, 0, &mut [], EventMeta::default(), true).outcome;
        assert_eq!(run(&binding), Outcome::Exit(7));
        assert!(binding.stats().is_empty());
        binding.enable_stats(true);
        for _ in 0..3 {
            assert_eq!(run(&binding), Outcome::Exit(7));
        }
        assert_eq!(binding.stats()[0].run_cnt, 3);
        binding.enable_stats(false);
        assert!(binding.stats().is_empty());
    }
}
