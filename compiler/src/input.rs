//! What `bpfc build`/`run` accept, recognised by content: a clang BPF ELF object, a bpf_conformance
//! `.data` file, or raw little-endian bytecode. Every form becomes a list of decoded programs.

use crate::conformance::{ConformanceError, parse_file};
use crate::elf::{InitRef, LoadError, LoadOptions, Object};
use crate::emit::MapDecl;
use bpfc_runtime::abi::ProgType;
use bpfc_runtime::bind::SlotRef;
use bpfc_runtime::isa::{Code, DecodeError, decode};
use std::path::{Path, PathBuf};

/// One program of an input file.
#[derive(Clone, Debug)]
pub struct InputProgram {
    /// Program name (a C function name, or the file stem for raw bytecode).
    pub name: String,
    /// ELF section (empty for raw bytecode).
    pub section: String,
    /// Program type.
    pub prog_type: ProgType,
    /// Linked, decoded code.
    pub code: Code,
}

/// A loaded input file.
#[derive(Clone, Debug)]
pub struct Input {
    /// Its programs.
    pub programs: Vec<InputProgram>,
    /// Maps, indexed as the code's `MapIdx` references.
    pub maps: Vec<MapDecl>,
    /// License string (from the `license` section; "GPL" is assumed for raw bytecode).
    pub license: String,
    /// The ELF object, when the input was one (BTF, line info, attach points).
    pub object: Option<Object>,
}

/// Why an input could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Raw bytecode that does not decode.
    #[error("{path}: {source}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: DecodeError,
    },
    /// A conformance file that does not parse.
    #[error(transparent)]
    Conformance(#[from] ConformanceError),
    /// An ELF object that could not be read or linked.
    #[error(transparent)]
    Elf(#[from] LoadError),
}

/// A program name usable in a symbol: ASCII alphanumerics and `_`.
pub fn symbol_name(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The runtime form of an object's maps: every map in object order (so `MapIdx` references stay valid),
/// then the inner-map templates of map-in-maps.
pub fn map_decls(object: &Object) -> Vec<MapDecl> {
    let decl = |m: &crate::elf::MapDef| MapDecl {
        name: m.name.clone(),
        map_type: m.map_type,
        key_size: m.key_size,
        value_size: m.value_size,
        max_entries: m.max_entries,
        flags: m.flags,
        inner_map: None,
        init: m.init.clone(),
        slots: Vec::new(),
    };
    let mut decls: Vec<MapDecl> = object.maps.iter().map(decl).collect();
    for (i, m) in object.maps.iter().enumerate() {
        if let Some(inner) = &m.inner {
            decls[i].inner_map = Some(decls.len() as u32);
            decls.push(MapDecl { name: format!("{}.inner", m.name), ..decl(inner) });
        }
        decls[i].slots = m
            .init_slots
            .iter()
            .filter_map(|(slot, r)| {
                let target = match r {
                    InitRef::Map(name) => SlotRef::Map(object.map_index(name)? as u32),
                    InitRef::Prog(name) => SlotRef::Prog(object.programs.iter().position(|p| &p.name == name)? as u32),
                };
                Some((*slot, target))
            })
            .collect();
    }
    decls
}

/// Loads a clang BPF object (read, link, CO-RE against `opts`), raw bytecode or a conformance file.
pub fn load_with(path: &Path, opts: &LoadOptions) -> Result<Input, InputError> {
    let io = |source| InputError::Io { path: path.to_path_buf(), source };
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(b"\x7fELF") {
        let object = Object::parse(&bytes, &path.display().to_string(), opts)?;
        let programs = object
            .programs
            .iter()
            .map(|p| InputProgram {
                name: symbol_name(&p.name),
                section: p.section.clone(),
                prog_type: p.prog_type,
                code: p.code.clone(),
            })
            .collect();
        return Ok(Input { programs, maps: map_decls(&object), license: object.license.clone(), object: Some(object) });
    }
    let code_bytes = if path.extension().is_some_and(|e| e == "data") { parse_file(path)?.code } else { bytes };
    let code = decode(&code_bytes).map_err(|source| InputError::Decode { path: path.to_path_buf(), source })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Input {
        programs: vec![InputProgram {
            name: symbol_name(&stem),
            section: String::new(),
            prog_type: ProgType::Unspec,
            code,
        }],
        maps: Vec::new(),
        license: "GPL".to_string(),
        object: None,
    })
}

/// [`load_with`] with default options (CO-RE against this machine's `/sys/kernel/btf/vmlinux`).
pub fn load(path: &Path) -> Result<Input, InputError> {
    load_with(path, &LoadOptions::default())
}
