//! Loading a linked object into this machine's kernel — the part of libbpf bpfc needs to use the kernel
//! as an oracle (its verifier, `BPF_PROG_TEST_RUN`, its JIT in benchmarks): create the maps, fill global
//! data and freeze `.rodata`, turn our map-index references (`lddw src=5/6`) back into the fd forms the
//! kernel takes (`src=1/2`), load every program, then fill program arrays.

use crate::input::Input;
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::bind::{BPF_F_RDONLY_PROG, SlotRef};
use bpfc_runtime::isa::{Code, Imm64, Insn, Located, encode};
use bpfc_runtime::sys::bpf::{
    BPF_F_SLEEPABLE, LoadError, MapCreate, MapFd, ProgLoad, SysError, map_create, map_freeze, map_update, prog_load,
};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Why an object could not be loaded into the kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelLoadError {
    /// Creating or filling a map failed.
    #[error("map `{name}`: {source}")]
    Map {
        /// Map name.
        name: String,
        /// The cause.
        #[source]
        source: SysError,
    },
    /// The kernel refused a program (its verifier log is in the error).
    #[error("program `{name}`: {source}")]
    Prog {
        /// Program name.
        name: String,
        /// The cause.
        #[source]
        source: LoadError,
    },
    /// The object refers to something that does not exist.
    #[error("{what}")]
    BadReference {
        /// What is wrong.
        what: String,
    },
}

/// An object living in the kernel: its map fds (object order) and program fds (object order).
#[derive(Debug)]
pub struct KernelObject {
    /// Maps, indexed like the object's maps.
    pub maps: Vec<MapFd>,
    /// Programs, indexed like the object's programs.
    pub progs: Vec<OwnedFd>,
}

/// The kernel's 15-byte object name.
fn kernel_name(name: &str) -> String {
    name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').take(15).collect()
}

/// `code` with map indexes replaced by kernel map fds.
pub fn with_map_fds(code: &Code, fds: &[i32]) -> Result<Vec<u8>, KernelLoadError> {
    let fd = |i: i32| {
        fds.get(i as usize).copied().ok_or_else(|| KernelLoadError::BadReference { what: format!("map index {i}") })
    };
    let mut insns: Vec<Located> = Vec::with_capacity(code.len());
    for l in code.insns() {
        let insn = match l.insn {
            Insn::LdImm64 { dst, imm: Imm64::MapIdx(i) } => Insn::LdImm64 { dst, imm: Imm64::MapFd(fd(i)?) },
            Insn::LdImm64 { dst, imm: Imm64::MapIdxValue { idx, off } } => {
                Insn::LdImm64 { dst, imm: Imm64::MapValue { fd: fd(idx)?, off } }
            }
            other => other,
        };
        insns.push(Located { pc: l.pc, insn });
    }
    Ok(encode(&insns))
}

/// Loads every map and program of `input` into the kernel.
pub fn load(input: &Input) -> Result<KernelObject, KernelLoadError> {
    let mut maps: Vec<Option<MapFd>> = (0..input.maps.len()).map(|_| None).collect();
    let order: Vec<usize> = (0..input.maps.len())
        .filter(|&i| input.maps[i].inner_map.is_none())
        .chain((0..input.maps.len()).filter(|&i| input.maps[i].inner_map.is_some()))
        .collect();
    for i in order {
        let m = &input.maps[i];
        let map_err = |source| KernelLoadError::Map { name: m.name.clone(), source };
        let name = kernel_name(&m.name);
        let inner = match m.inner_map {
            Some(t) => Some(maps.get(t as usize).and_then(Option::as_ref).ok_or_else(|| {
                KernelLoadError::BadReference { what: format!("map `{}`: inner template {t}", m.name) }
            })?),
            None => None,
        };
        let fd = map_create(&MapCreate {
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: m.max_entries,
            flags: m.flags,
            name: &name,
            inner_map_fd: inner.map(|f| f.fd()),
            ..MapCreate::default()
        })
        .map_err(map_err)?;
        if let Some(init) = &m.init {
            let mut value = init.clone();
            value.resize(m.value_size as usize, 0);
            map_update(&fd, &0u32.to_le_bytes(), &value, 0).map_err(map_err)?;
            if m.flags & BPF_F_RDONLY_PROG != 0 {
                map_freeze(&fd).map_err(map_err)?;
            }
        }
        maps[i] = Some(fd);
    }
    let maps: Vec<MapFd> = maps.into_iter().map(|m| m.expect("every map created")).collect();
    let raw_fds: Vec<i32> = maps.iter().map(|m| m.fd().as_raw_fd()).collect();
    let kern_version = input.object.as_ref().and_then(|o| o.kern_version).unwrap_or(0);
    let mut progs = Vec::with_capacity(input.programs.len());
    for p in &input.programs {
        let bytes = with_map_fds(&p.code, &raw_fds)?;
        let name = kernel_name(&p.name);
        let fd = prog_load(&ProgLoad {
            prog_type: p.prog_type as u32,
            insns: &bytes,
            license: &input.license,
            kern_version,
            prog_name: &name,
            // The kernel runs syscall programs only as sleepable ones (libbpf loads `SEC("syscall")` so).
            flags: if p.prog_type == ProgType::Syscall { BPF_F_SLEEPABLE } else { 0 },
            ..ProgLoad::default()
        })
        .map_err(|source| KernelLoadError::Prog { name: p.name.clone(), source })?;
        progs.push(fd);
    }
    for (i, m) in input.maps.iter().enumerate() {
        for &(slot, r) in &m.slots {
            let fd = match r {
                SlotRef::Map(t) => maps.get(t as usize).map(|f| f.fd().as_raw_fd()),
                SlotRef::Prog(t) => progs.get(t as usize).map(|f| f.as_fd().as_raw_fd()),
            }
            .ok_or_else(|| KernelLoadError::BadReference { what: format!("map `{}` slot {slot}", m.name) })?;
            map_update(&maps[i], &slot.to_le_bytes(), &fd.to_le_bytes(), 0)
                .map_err(|source| KernelLoadError::Map { name: m.name.clone(), source })?;
        }
    }
    Ok(KernelObject { maps, progs })
}

/// Attaches a loaded tracepoint program to `category:name` in the kernel, as samples/bpf does:
/// `perf_event_open(PERF_TYPE_TRACEPOINT)` on CPU 0 (a tracepoint's programs run on every CPU), then
/// `PERF_EVENT_IOC_SET_BPF` and `PERF_EVENT_IOC_ENABLE`. The attachment lasts as long as the returned fd.
pub fn attach_tracepoint(prog: std::os::fd::BorrowedFd<'_>, category: &str, name: &str) -> std::io::Result<OwnedFd> {
    use bpfc_runtime::sys::perf::{PerfEventAttr, attach_bpf, enable, perf_event_open};
    let root = bpfc_runtime::events::formats::tracefs_root().map_err(std::io::Error::other)?;
    let id_path = root.join("events").join(category).join(name).join("id");
    let id: u64 = std::fs::read_to_string(&id_path)?
        .trim()
        .parse()
        .map_err(|_| std::io::Error::other(format!("bad tracepoint id in {}", id_path.display())))?;
    let attr = PerfEventAttr {
        type_: 2, // PERF_TYPE_TRACEPOINT
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id,
        sample_period: 1,
        wakeup: 1,
        ..PerfEventAttr::default()
    };
    let fd = perf_event_open(&attr, None, -1, 0)?;
    attach_bpf(fd.as_fd(), prog)?;
    enable(fd.as_fd())?;
    Ok(fd)
}

/// Attaches a loaded uprobe program in the kernel through the uprobe PMU (`perf_event_open` with the
/// binary's path and the function's file offset, the retprobe bit for uretprobes), then
/// `PERF_EVENT_IOC_SET_BPF` and `PERF_EVENT_IOC_ENABLE`.
pub fn attach_uprobe(
    prog: std::os::fd::BorrowedFd<'_>,
    spec: &bpfc_runtime::events::uprobe::UprobeSpec,
) -> std::io::Result<OwnedFd> {
    use bpfc_runtime::events::uprobe::uprobe_pmu;
    use bpfc_runtime::sys::perf::{PerfEventAttr, attach_bpf, enable, perf_event_open};
    let (ty, ret_bit) = uprobe_pmu().map_err(std::io::Error::other)?;
    let offset = spec.file_offset().map_err(std::io::Error::other)?;
    let abs = std::fs::canonicalize(&spec.path)?;
    let path = std::ffi::CString::new(abs.as_os_str().as_encoded_bytes()).map_err(std::io::Error::other)?;
    let attr = PerfEventAttr {
        type_: ty,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: if spec.ret { 1u64 << ret_bit } else { 0 },
        config2: offset,
        sample_period: 1,
        wakeup: 1,
        ..PerfEventAttr::default()
    };
    let fd = perf_event_open(&attr, Some(&path), -1, 0)?;
    attach_bpf(fd.as_fd(), prog)?;
    enable(fd.as_fd())?;
    Ok(fd)
}
