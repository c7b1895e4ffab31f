//! Reading clang-built BPF ELF objects (`clang -O2 -g -target bpf -c`) as libbpf does.
//!
//! Pipeline of [`Object::parse`]: [`reader`] checks and indexes the ELF (goblin underneath); `.BTF` and
//! `.BTF.ext` are parsed first because maps and programs need them; [`maps`] reads BTF-defined, legacy
//! and global-data maps; programs are the global functions of executable sections other than `.text`,
//! typed by their section name ([`section`]); then [`crate::link`] relocates every section (CO-RE, map and
//! global-data references, calls) and builds each program's linked instruction stream with its `.text`
//! subprograms appended. The result, [`Object`], is what the verifier, lowering and runtime consume.

mod error;
pub mod listing;
pub mod maps;
pub mod reader;
pub mod section;

pub use error::ElfError;

use crate::btf::ext::BtfExt;
use crate::btf::{Btf, BtfError};
use crate::link::LinkError;
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::isa::{Code, Pc};
use std::path::{Path, PathBuf};

/// Where a program attaches, from its section name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attach {
    /// `kprobe/FUNC[+OFF]`, `kretprobe/FUNC`.
    Kprobe {
        /// Kernel function ("" when the section names none).
        func: String,
        /// Byte offset into the function.
        offset: u64,
        /// Return probe.
        retprobe: bool,
    },
    /// `uprobe/BINARY:FUNC[+OFF]`, `uretprobe/...`.
    Uprobe {
        /// Path of the binary ("" when the section names none).
        binary: String,
        /// Function symbol ("" when only an offset is given).
        func: String,
        /// Offset from the function (or from the file start without a function).
        offset: u64,
        /// Return probe.
        retprobe: bool,
    },
    /// `tracepoint/CAT/NAME`, `tp/CAT/NAME`.
    Tracepoint {
        /// Category, e.g. `syscalls`.
        category: String,
        /// Name, e.g. `sys_enter_openat`.
        name: String,
    },
    /// `raw_tracepoint/NAME`, `raw_tp/NAME`.
    RawTracepoint {
        /// Tracepoint name.
        name: String,
    },
    /// `tp_btf/NAME`.
    TpBtf {
        /// Tracepoint name.
        name: String,
    },
    /// `perf_event`.
    PerfEvent,
    /// `socket`.
    SocketFilter,
    /// `xdp`.
    Xdp,
    /// `tc`, `classifier`.
    Tc,
    /// `syscall`.
    Syscall,
    /// `ksyscall/NAME`, `kretsyscall/NAME`.
    Ksyscall {
        /// Syscall name.
        name: String,
        /// Return probe.
        ret: bool,
    },
}

impl std::fmt::Display for Attach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attach::Kprobe { func, offset, retprobe } => {
                write!(f, "{} {func}", if *retprobe { "kretprobe" } else { "kprobe" })?;
                if *offset != 0 {
                    write!(f, "+{offset:#x}")?;
                }
                Ok(())
            }
            Attach::Uprobe { binary, func, offset, retprobe } => {
                write!(f, "{} {binary}:{func}", if *retprobe { "uretprobe" } else { "uprobe" })?;
                if *offset != 0 {
                    write!(f, "+{offset:#x}")?;
                }
                Ok(())
            }
            Attach::Tracepoint { category, name } if category.is_empty() => write!(f, "tracepoint{name}"),
            Attach::Tracepoint { category, name } => write!(f, "tracepoint {category}:{name}"),
            Attach::RawTracepoint { name } => write!(f, "raw_tracepoint {name}"),
            Attach::TpBtf { name } => write!(f, "tp_btf {name}"),
            Attach::PerfEvent => write!(f, "perf_event"),
            Attach::SocketFilter => write!(f, "socket"),
            Attach::Xdp => write!(f, "xdp"),
            Attach::Tc => write!(f, "tc"),
            Attach::Syscall => write!(f, "syscall"),
            Attach::Ksyscall { name, ret } => write!(f, "{} {name}", if *ret { "kretsyscall" } else { "ksyscall" }),
        }
    }
}

/// A source position of a linked instruction (from `.BTF.ext` line info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineInfo {
    /// Slot in the linked program.
    pub pc: Pc,
    /// Source file.
    pub file: String,
    /// Line number.
    pub line: u32,
    /// Column.
    pub col: u32,
    /// The source line's text as clang recorded it.
    pub text: String,
}

/// A function boundary in a linked program (from `.BTF.ext` func info).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncInfo {
    /// First slot of the function in the linked program.
    pub pc: Pc,
    /// Function name.
    pub name: String,
    /// BTF FUNC type id in the object's BTF.
    pub type_id: u32,
}

/// One program, linked: its code starts at slot 0, the `.text` functions it calls follow.
#[derive(Clone, Debug)]
pub struct Program {
    /// Function name.
    pub name: String,
    /// ELF section.
    pub section: String,
    /// Kernel program type.
    pub prog_type: ProgType,
    /// Attach target.
    pub attach: Attach,
    /// Linked code: calls and function references point into it; map references are `MapIdx`/
    /// `MapIdxValue` indices into [`Object::maps`].
    pub code: Code,
    /// Source lines, sorted by slot.
    pub line_info: Vec<LineInfo>,
    /// Function boundaries, sorted by slot (entry first).
    pub func_info: Vec<FuncInfo>,
    /// CO-RE relocations applied to this program's code (entry and appended subprograms).
    pub core_relos_applied: usize,
    /// Functions in the linked code: (name, first slot); the entry is first.
    pub functions: Vec<(String, Pc)>,
}

impl Program {
    /// The source line of the instruction at `pc` (the last line-info record at or before it).
    pub fn line_at(&self, pc: Pc) -> Option<&LineInfo> {
        let i = self.line_info.partition_point(|l| l.pc <= pc);
        i.checked_sub(1).map(|i| &self.line_info[i])
    }
}

/// What a map was made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// `SEC(".maps")` with a BTF definition.
    Btf,
    /// `SEC("maps")` `struct bpf_map_def`.
    Legacy,
    /// `.data` / `.data.*`.
    Data,
    /// `.rodata` / `.rodata.*` (read-only for programs).
    Rodata,
    /// `.bss` / `.bss.*`.
    Bss,
    /// `.kconfig` externs.
    Kconfig,
}

/// An initial slot value of a map-in-map or prog_array map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InitRef {
    /// The map with this name.
    Map(String),
    /// The program with this name.
    Prog(String),
}

/// A map the object defines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapDef {
    /// Name as libbpf builds it (global data: `<obj>.rodata` etc.); see [`MapDef::kernel_name`].
    pub name: String,
    /// ELF section the definition came from.
    pub section: String,
    /// Kernel `enum bpf_map_type`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries (0 for perf_event_array means "one per CPU", as libbpf).
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// `LIBBPF_PIN_*`.
    pub pinning: u32,
    /// NUMA node.
    pub numa_node: u32,
    /// `map_extra`.
    pub map_extra: u64,
    /// Inner map template of a map-in-map.
    pub inner: Option<Box<MapDef>>,
    /// Initial contents of the single value (global data).
    pub init: Option<Vec<u8>>,
    /// Initial slots of map-in-map and prog_array maps.
    pub init_slots: Vec<(u32, InitRef)>,
    /// Origin.
    pub kind: MapKind,
    /// BTF key type id (0 if none).
    pub btf_key_type_id: u32,
    /// BTF value type id (the DATASEC for global data; 0 if none).
    pub btf_value_type_id: u32,
}

impl MapDef {
    /// The name the kernel stores (and bpftool shows): truncated to 15 bytes.
    pub fn kernel_name(&self) -> &str {
        let n = self.name.len().min(maps::BPF_OBJ_NAME_LEN - 1);
        &self.name[..n]
    }

    /// Whether programs may write the map (libbpf's `.rodata` gets `BPF_F_RDONLY_PROG`).
    pub fn readonly_for_programs(&self) -> bool {
        self.flags & maps::BPF_F_RDONLY_PROG != 0
    }
}

/// Which BTF CO-RE relocations resolve against.
#[derive(Clone, Debug, Default)]
pub enum TargetBtf {
    /// `/sys/kernel/btf/vmlinux`, read only if the object has CO-RE relocations.
    #[default]
    Vmlinux,
    /// A BTF file (`--btf FILE`), e.g. another architecture's vmlinux BTF.
    File(PathBuf),
    /// Already parsed (shared: one kernel BTF serves many objects).
    Parsed(std::sync::Arc<Btf>),
}

/// Options for reading an object.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Target BTF for CO-RE.
    pub target_btf: TargetBtf,
}

/// A fully read and linked object.
#[derive(Clone, Debug)]
pub struct Object {
    /// Object name as libbpf derives it (file name up to the first dot).
    pub name: String,
    /// File name for messages.
    pub file: String,
    /// Programs in section order, then symbol order.
    pub programs: Vec<Program>,
    /// Maps; code refers to them by index.
    pub maps: Vec<MapDef>,
    /// Contents of the `license` section.
    pub license: String,
    /// Contents of the `version` section.
    pub kern_version: Option<u32>,
    /// The object's BTF.
    pub btf: Option<Btf>,
    /// The object's `.BTF.ext`.
    pub btf_ext: Option<BtfExt>,
    /// Names of the `.text` subprograms.
    pub subprograms: Vec<String>,
}

/// Any failure to read and link an object.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The ELF, BTF or a map definition is invalid.
    #[error(transparent)]
    Elf(#[from] ElfError),
    /// Relocation, CO-RE or linking failed.
    #[error(transparent)]
    Link(#[from] Box<LinkError>),
}

/// libbpf's object name: the file's base name up to the first dot.
pub fn object_name(file: &str) -> String {
    let base = Path::new(file).file_name().map_or_else(|| file.to_string(), |b| b.to_string_lossy().into_owned());
    base.split('.').next().unwrap_or("").to_string()
}

/// Relocations outside code (in `.maps`, data, `.BTF`, `.BTF.ext`, DWARF) may only be the data kinds clang
/// emits there; code relocations are checked per instruction by the linker.
fn check_data_relocs(elf: &reader::ElfFile<'_>) -> Result<(), ElfError> {
    use reader::{R_BPF_64_ABS32, R_BPF_64_ABS64, R_BPF_64_NODYLD32};
    for (target, relocs) in &elf.relocs {
        let sec = &elf.sections[*target];
        if sec.is_exec() {
            continue;
        }
        if let Some(r) = relocs.iter().find(|r| ![R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32].contains(&r.rtype))
        {
            return Err(ElfError::BadRelocType {
                file: elf.file.clone(),
                section: sec.name.clone(),
                reloc: r.number,
                offset: r.offset,
                rtype: r.rtype,
                name: reader::reloc_name(r.rtype),
                allowed: "R_BPF_64_ABS64, R_BPF_64_ABS32, R_BPF_64_NODYLD32",
            });
        }
    }
    Ok(())
}

/// Fills in DATASEC sizes and variable offsets from the ELF, as libbpf does before using them.
fn fixup_datasecs(elf: &reader::ElfFile<'_>, btf: &mut Btf) -> Result<(), ElfError> {
    for id in 1..btf.type_count() {
        if !matches!(btf.ty(id).kind, crate::btf::Kind::Datasec { .. }) {
            continue;
        }
        let name = btf.name(id).to_string();
        let Some(sec) = elf.section_by_name(&name) else { continue };
        let size = u32::try_from(sec.size).unwrap_or(u32::MAX);
        let shndx = sec.index;
        btf.fixup_datasec(id, size, |var| {
            elf.symbols
                .iter()
                .find(|s| s.shndx == shndx && s.name == var && s.typ != goblin::elf::sym::STT_SECTION)
                .map(|s| s.value)
        })
        .map_err(|detail| ElfError::BadSection { file: elf.file.clone(), section: name.clone(), detail })?;
    }
    Ok(())
}

impl Object {
    /// Reads, relocates and links the object in file `path`.
    pub fn load(path: &Path, opts: &LoadOptions) -> Result<Object, LoadError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ElfError::Io { file: file.clone(), error: e.to_string() })?;
        Object::parse(&bytes, &file, opts)
    }

    /// Reads, relocates and links an object from memory; `file` names it in messages and gives the
    /// object name (global data map prefixes).
    pub fn parse(bytes: &[u8], file: &str, opts: &LoadOptions) -> Result<Object, LoadError> {
        let elf = reader::ElfFile::parse(bytes, file)?;
        let btf_err = |error: BtfError| ElfError::Btf { file: file.into(), error };
        let mut btf = match elf.section_by_name(".BTF") {
            Some(s) => Some(Btf::parse(s.data, ".BTF").map_err(btf_err)?),
            None => None,
        };
        if let Some(b) = &mut btf {
            fixup_datasecs(&elf, b)?;
        }
        let btf_ext = match (elf.section_by_name(".BTF.ext"), &btf) {
            (Some(s), Some(b)) => Some(BtfExt::parse(s.data, b).map_err(btf_err)?),
            (Some(_), None) => {
                return Err(ElfError::BadSection {
                    file: file.into(),
                    section: ".BTF.ext".into(),
                    detail: ".BTF.ext without .BTF".into(),
                }
                .into());
            }
            _ => None,
        };
        check_data_relocs(&elf)?;
        let name = object_name(file);
        let (maps, map_syms) = maps::read_maps(&elf, btf.as_ref(), &name)?;
        let license = match elf.section_by_name("license") {
            Some(s) => {
                let end = s.data.iter().position(|&b| b == 0).ok_or_else(|| ElfError::BadSection {
                    file: file.into(),
                    section: "license".into(),
                    detail: "license string is not NUL-terminated".into(),
                })?;
                String::from_utf8_lossy(&s.data[..end]).into_owned()
            }
            None => String::new(),
        };
        let kern_version = match elf.section_by_name("version") {
            Some(s) if s.data.len() == 4 => Some(u32::from_le_bytes([s.data[0], s.data[1], s.data[2], s.data[3]])),
            Some(s) => {
                return Err(ElfError::BadSection {
                    file: file.into(),
                    section: "version".into(),
                    detail: format!("version section has {} bytes, expected 4", s.data.len()),
                }
                .into());
            }
            None => None,
        };
        let linked = crate::link::link(&crate::link::Input {
            elf: &elf,
            btf: btf.as_ref(),
            ext: btf_ext.as_ref(),
            maps: &maps,
            map_syms: &map_syms,
            target: &opts.target_btf,
        })
        .map_err(Box::new)?;
        Ok(Object {
            name,
            file: file.into(),
            programs: linked.programs,
            maps,
            license,
            kern_version,
            btf,
            btf_ext,
            subprograms: linked.subprograms,
        })
    }

    /// The program with this name.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Index of the map with this name.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name)
    }
}
