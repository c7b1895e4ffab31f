//! BTF: the type information clang writes into `.BTF` and the kernel exports at `/sys/kernel/btf/vmlinux`.
//!
//! One parser for the format ([`Btf::parse`]), one for `.BTF.ext` ([`ext`]), and CO-RE relocation
//! ([`core`]) on top of both. Parsing validates every string offset and every type reference once, so
//! the accessors below index without further checks and can never panic on a parsed `Btf`; chains of
//! modifiers are followed with a depth bound ([`MAX_RESOLVE_DEPTH`], as libbpf) so a corrupt, cyclic
//! type graph ends in an error, not a hang.
//!
//! Why our own parser rather than a crate: see docs/architecture.md, "ELF and BTF" (`btf-rs` reads types
//! but not `.BTF.ext` nor CO-RE; aya-obj's BTF brings a second ELF reader and object model).

pub mod core;
pub mod ext;
pub mod format;
mod types;

pub use types::{EnumValue, Kind, Member, Param, Type, VarSecinfo};

/// BTF magic number (`0xeB9F`, little endian on disk for little-endian objects).
pub const BTF_MAGIC: u16 = 0xeb9f;
/// How many modifier/typedef links are followed before a type graph is declared cyclic (libbpf's bound).
pub const MAX_RESOLVE_DEPTH: usize = 32;

/// A BTF parsing or lookup error. `what` names the section (`.BTF`, `.BTF.ext`, or a file).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BtfError {
    /// The data ends before a structure it announces.
    #[error("{what}: truncated: {detail} needs bytes {start}..{end} but only {len} exist")]
    Truncated {
        /// Which blob.
        what: String,
        /// What was being read.
        detail: String,
        /// First byte needed.
        start: u64,
        /// One past the last byte needed.
        end: u64,
        /// Bytes available.
        len: usize,
    },
    /// Wrong magic number (or a big-endian blob).
    #[error("{what}: bad magic {magic:#06x} (expected 0xeb9f)")]
    BadMagic {
        /// Which blob.
        what: String,
        /// The magic found.
        magic: u16,
    },
    /// A header field with an unsupported value.
    #[error("{what}: unsupported header: {detail}")]
    BadHeader {
        /// Which blob.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// A type of an unknown kind.
    #[error("{what}: type [{id}] has unknown kind {kind}")]
    UnknownKind {
        /// Which blob.
        what: String,
        /// Type id.
        id: u32,
        /// Kind number.
        kind: u32,
    },
    /// A type refers to a type id that does not exist.
    #[error("{what}: type [{id}] refers to type [{target}], but only {count} types exist")]
    BadTypeRef {
        /// Which blob.
        what: String,
        /// Type id.
        id: u32,
        /// The referenced id.
        target: u32,
        /// Number of types (including void).
        count: u32,
    },
    /// A string offset outside the string section or not NUL-terminated / UTF-8.
    #[error("{what}: {context}: string offset {off} is invalid (string section has {len} bytes)")]
    BadString {
        /// Which blob.
        what: String,
        /// Where the offset was found.
        context: String,
        /// The offset.
        off: u32,
        /// String section size.
        len: usize,
    },
    /// A record with an impossible value.
    #[error("{what}: {detail}")]
    Invalid {
        /// Which blob.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// Reading a file failed.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The OS error text.
        error: String,
    },
}

/// Parsed BTF: types by id (id 0 is `void`) and the string section.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Btf {
    types: Vec<Type>,
    strings: Vec<u8>,
}

/// Little-endian reader over a bounded slice; every read is checked.
pub(crate) struct Cursor<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) what: &'a str,
}

impl Cursor<'_> {
    pub(crate) fn u32_at(&self, off: usize, detail: &str) -> Result<u32, BtfError> {
        self.bytes(off, 4, detail).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn bytes(&self, off: usize, n: usize, detail: &str) -> Result<&[u8], BtfError> {
        off.checked_add(n).and_then(|end| self.data.get(off..end)).ok_or_else(|| BtfError::Truncated {
            what: self.what.to_string(),
            detail: detail.to_string(),
            start: off as u64,
            end: off as u64 + n as u64,
            len: self.data.len(),
        })
    }
}

impl Btf {
    /// Parses a `.BTF` blob (an object's section or a kernel BTF file).
    pub fn parse(data: &[u8], what: &str) -> Result<Btf, BtfError> {
        let c = Cursor { data, what };
        let hdr = c.bytes(0, 24, "header")?;
        let magic = u16::from_le_bytes([hdr[0], hdr[1]]);
        if magic != BTF_MAGIC {
            return Err(BtfError::BadMagic { what: what.into(), magic });
        }
        if hdr[2] != 1 {
            return Err(BtfError::BadHeader { what: what.into(), detail: format!("version {} (expected 1)", hdr[2]) });
        }
        let hdr_len = c.u32_at(4, "header")? as usize;
        if hdr_len < 24 {
            return Err(BtfError::BadHeader { what: what.into(), detail: format!("hdr_len {hdr_len} < 24") });
        }
        let type_off = c.u32_at(8, "header")? as usize;
        let type_len = c.u32_at(12, "header")? as usize;
        let str_off = c.u32_at(16, "header")? as usize;
        let str_len = c.u32_at(20, "header")? as usize;
        let type_start = hdr_len.saturating_add(type_off);
        let type_data = c.bytes(type_start, type_len, "type section")?;
        let str_start = hdr_len.saturating_add(str_off);
        let strings = c.bytes(str_start, str_len, "string section")?.to_vec();
        if strings.first().is_some_and(|&b| b != 0) {
            return Err(BtfError::Invalid {
                what: what.into(),
                detail: "string section does not start with NUL".into(),
            });
        }
        let mut btf = Btf { types: vec![Type { name_off: 0, kind: Kind::Void }], strings };
        types::parse_types(&mut btf.types, type_data, what)?;
        btf.validate(what)?;
        Ok(btf)
    }

    /// Reads and parses a BTF file (e.g. `/sys/kernel/btf/vmlinux`).
    pub fn from_file(path: &std::path::Path) -> Result<Btf, BtfError> {
        let data =
            std::fs::read(path).map_err(|e| BtfError::Io { path: path.display().to_string(), error: e.to_string() })?;
        Btf::parse(&data, &path.display().to_string())
    }

    fn validate(&self, what: &str) -> Result<(), BtfError> {
        let count = self.types.len() as u32;
        for (id, t) in self.types.iter().enumerate() {
            let id = id as u32;
            self.check_str(t.name_off, what, &format!("name of type [{id}]"))?;
            let check = |target: u32| {
                if target >= count {
                    Err(BtfError::BadTypeRef { what: what.into(), id, target, count })
                } else {
                    Ok(())
                }
            };
            for r in t.kind.refs() {
                check(r)?;
            }
            match &t.kind {
                Kind::Struct { members, .. } | Kind::Union { members, .. } => {
                    for m in members {
                        self.check_str(m.name_off, what, &format!("member of type [{id}]"))?;
                    }
                }
                Kind::Enum { values, .. } => {
                    for v in values {
                        self.check_str(v.name_off, what, &format!("enumerator of type [{id}]"))?;
                    }
                }
                Kind::FuncProto { params, .. } => {
                    for p in params {
                        self.check_str(p.name_off, what, &format!("parameter of type [{id}]"))?;
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_str(&self, off: u32, what: &str, context: &str) -> Result<(), BtfError> {
        let bad = || BtfError::BadString { what: what.into(), context: context.into(), off, len: self.strings.len() };
        let rest = self.strings.get(off as usize..).ok_or_else(bad)?;
        let end = rest.iter().position(|&b| b == 0).ok_or_else(bad)?;
        std::str::from_utf8(&rest[..end]).map_err(|_| bad())?;
        Ok(())
    }

    /// Validates a string offset from elsewhere (e.g. `.BTF.ext`) and returns the string.
    pub fn try_str(&self, off: u32) -> Option<&str> {
        let rest = self.strings.get(off as usize..)?;
        let end = rest.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    /// The string at a validated offset (empty if the offset was never validated).
    pub fn str_at(&self, off: u32) -> &str {
        self.try_str(off).unwrap_or("")
    }

    /// Number of types including `void` (valid ids are `0..type_count()`).
    pub fn type_count(&self) -> u32 {
        self.types.len() as u32
    }

    /// The type with this id, if it exists.
    pub fn get(&self, id: u32) -> Option<&Type> {
        self.types.get(id as usize)
    }

    /// The type with this id; `void` for an unknown id (ids inside a parsed `Btf` are all valid).
    pub fn ty(&self, id: u32) -> &Type {
        self.types.get(id as usize).unwrap_or(&self.types[0])
    }

    /// The name of a type ("" when anonymous).
    pub fn name(&self, id: u32) -> &str {
        self.str_at(self.ty(id).name_off)
    }

    /// Size of the string section.
    pub fn strings_len(&self) -> usize {
        self.strings.len()
    }

    /// Follows typedefs and cv/type-tag modifiers to the underlying type; returns its id.
    pub fn skip_mods_and_typedefs(&self, mut id: u32) -> Result<u32, BtfError> {
        for _ in 0..MAX_RESOLVE_DEPTH {
            match self.ty(id).kind {
                Kind::Typedef(t) | Kind::Volatile(t) | Kind::Const(t) | Kind::Restrict(t) | Kind::TypeTag(t) => id = t,
                _ => return Ok(id),
            }
        }
        Err(self.too_deep(id))
    }

    fn too_deep(&self, id: u32) -> BtfError {
        BtfError::Invalid {
            what: "BTF".into(),
            detail: format!("type [{id}] has a modifier chain deeper than {MAX_RESOLVE_DEPTH} (cyclic?)"),
        }
    }

    /// The byte size of a type (libbpf's `btf__resolve_size`); errors for sizeless types.
    pub fn resolve_size(&self, id: u32) -> Result<u64, BtfError> {
        let mut id = id;
        let mut nelems: u64 = 1;
        for _ in 0..MAX_RESOLVE_DEPTH {
            let size = match &self.ty(id).kind {
                Kind::Int { size, .. }
                | Kind::Struct { size, .. }
                | Kind::Union { size, .. }
                | Kind::Enum { size, .. }
                | Kind::Datasec { size, .. }
                | Kind::Float { size } => u64::from(*size),
                Kind::Ptr(_) => 8,
                Kind::Typedef(t)
                | Kind::Volatile(t)
                | Kind::Const(t)
                | Kind::Restrict(t)
                | Kind::TypeTag(t)
                | Kind::Var { ty: t, .. }
                | Kind::DeclTag { ty: t, .. } => {
                    id = *t;
                    continue;
                }
                Kind::Array { elem, nelems: n, .. } => {
                    nelems = nelems.checked_mul(u64::from(*n)).ok_or_else(|| self.too_big(id))?;
                    id = *elem;
                    continue;
                }
                Kind::Void | Kind::Fwd { .. } | Kind::Func { .. } | Kind::FuncProto { .. } => {
                    return Err(BtfError::Invalid {
                        what: "BTF".into(),
                        detail: format!("type [{id}] ({}) has no size", self.ty(id).kind.name()),
                    });
                }
            };
            let total = nelems.checked_mul(size).ok_or_else(|| self.too_big(id))?;
            if total > u64::from(u32::MAX) {
                return Err(self.too_big(id));
            }
            return Ok(total);
        }
        Err(self.too_deep(id))
    }

    fn too_big(&self, id: u32) -> BtfError {
        BtfError::Invalid { what: "BTF".into(), detail: format!("type [{id}] is larger than 4 GiB") }
    }

    /// libbpf's `btf_fixup_datasec`: clang leaves DATASEC sizes and variable offsets for the linker, so
    /// the section size and each non-static variable's offset come from the ELF (`sym_offset(name)`).
    pub fn fixup_datasec(
        &mut self,
        id: u32,
        size: u32,
        sym_offset: impl Fn(&str) -> Option<u64>,
    ) -> Result<(), String> {
        let mut fixed = Vec::new();
        if let Kind::Datasec { vars, .. } = &self.ty(id).kind {
            for v in vars {
                let Kind::Var { linkage, .. } = self.ty(v.ty).kind else {
                    return Err(format!("DATASEC [{id}] entry [{}] is not a variable", v.ty));
                };
                // Static variables keep clang's offsets; externs have none.
                if linkage == 0 || linkage == 2 {
                    fixed.push(v.offset);
                    continue;
                }
                let name = self.name(v.ty);
                let off = sym_offset(name).ok_or_else(|| format!("no ELF symbol for variable `{name}`"))?;
                fixed.push(u32::try_from(off).map_err(|_| format!("variable `{name}` offset {off} is too large"))?);
            }
        }
        if let Some(Type { kind: Kind::Datasec { size: s, vars }, .. }) = self.types.get_mut(id as usize) {
            *s = size;
            for (v, off) in vars.iter_mut().zip(fixed) {
                v.offset = off;
            }
        }
        Ok(())
    }

    /// The first type with this name and (optionally) kind predicate.
    pub fn find_by_name(&self, name: &str, pred: impl Fn(&Kind) -> bool) -> Option<u32> {
        (1..self.type_count()).find(|&id| pred(&self.ty(id).kind) && self.name(id) == name)
    }

    /// A C-like spelling of a type for messages: `struct task_struct`, `u32`, `char *`.
    pub fn describe(&self, id: u32) -> String {
        let t = self.ty(id);
        let name = self.str_at(t.name_off);
        match &t.kind {
            Kind::Void => "void".into(),
            Kind::Struct { .. } => format!("struct {name}"),
            Kind::Union { .. } => format!("union {name}"),
            Kind::Enum { .. } => format!("enum {name}"),
            Kind::Fwd { union } => format!("{} {name}", if *union { "union" } else { "struct" }),
            Kind::Ptr(t) => format!("{} *", self.describe_shallow(*t)),
            Kind::Const(t) => format!("const {}", self.describe_shallow(*t)),
            Kind::Volatile(t) => format!("volatile {}", self.describe_shallow(*t)),
            Kind::Array { elem, nelems, .. } => format!("{}[{nelems}]", self.describe_shallow(*elem)),
            _ if !name.is_empty() => name.to_string(),
            k => format!("<anon {}>", k.name()),
        }
    }

    fn describe_shallow(&self, id: u32) -> String {
        let t = self.ty(id);
        match &t.kind {
            Kind::Ptr(_) | Kind::Const(_) | Kind::Volatile(_) | Kind::Array { .. } => format!("<{}>", t.kind.name()),
            _ => self.describe(id),
        }
    }
}

/// Length of a name without its `___flavor` suffix (libbpf's `bpf_core_essential_name_len`): the last
/// `X___Y` pattern where X and Y are not underscores cuts the name after X.
pub fn essential_name(name: &str) -> &str {
    let b = name.as_bytes();
    let n = b.len();
    if n >= 5 {
        for i in (0..=n - 5).rev() {
            if b[i] != b'_' && b[i + 1] == b'_' && b[i + 2] == b'_' && b[i + 3] == b'_' && b[i + 4] != b'_' {
                return &name[..i + 1];
            }
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essential_names() {
        assert_eq!(essential_name("task_struct___old"), "task_struct");
        assert_eq!(essential_name("task_struct"), "task_struct");
        assert_eq!(essential_name("a___b___c"), "a___b");
        assert_eq!(essential_name("____x"), "____x");
        assert_eq!(essential_name("x____y"), "x____y");
    }

    #[test]
    fn rejects_garbage() {
        assert!(matches!(Btf::parse(&[0; 10], "t"), Err(BtfError::Truncated { .. })));
        assert!(matches!(Btf::parse(&[0; 24], "t"), Err(BtfError::BadMagic { .. })));
    }

    #[test]
    fn parses_vmlinux_when_present() {
        let p = std::path::Path::new("/sys/kernel/btf/vmlinux");
        if !p.exists() {
            eprintln!("SKIP: /sys/kernel/btf/vmlinux absent");
            return;
        }
        let btf = Btf::from_file(p).unwrap();
        let ts = btf.find_by_name("task_struct", |k| matches!(k, Kind::Struct { .. })).unwrap();
        assert!(btf.resolve_size(ts).unwrap() > 1000);
    }
}
