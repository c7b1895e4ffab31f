//! The BTF type records (kernel `include/uapi/linux/btf.h`) and their decoder.
//!
//! Each record is a 12-byte `btf_type` (name offset, info word with kind/vlen/kind_flag, size-or-type)
//! followed by kind-specific data whose length depends on vlen. Decoding is a single forward pass with
//! every read bounds-checked; references are validated afterwards by `Btf::validate`.

use super::{BtfError, Cursor};

/// A struct/union member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Name string offset (0 for anonymous embedded structs/unions).
    pub name_off: u32,
    /// Member type.
    pub ty: u32,
    /// Offset in bits from the start of the aggregate.
    pub bit_offset: u32,
    /// Bitfield width, 0 when not a bitfield.
    pub bitfield_size: u32,
}

/// One enumerator (ENUM and ENUM64 both map here).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumValue {
    /// Name string offset.
    pub name_off: u32,
    /// Value: sign-extended for signed 32-bit enums, raw bits otherwise.
    pub value: i64,
}

/// One function-prototype parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    /// Name string offset.
    pub name_off: u32,
    /// Parameter type (0 for a trailing `...`).
    pub ty: u32,
}

/// One variable of a DATASEC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarSecinfo {
    /// The VAR (or FUNC for externs) type id.
    pub ty: u32,
    /// Byte offset in the section.
    pub offset: u32,
    /// Byte size.
    pub size: u32,
}

/// What a type is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Id 0.
    Void,
    /// `BTF_KIND_INT`.
    Int {
        /// Byte size.
        size: u32,
        /// `BTF_INT_SIGNED` (1), `CHAR` (2), `BOOL` (4).
        encoding: u8,
        /// Bit offset (deprecated, non-zero only in bitfield-like ints).
        offset: u8,
        /// Number of bits.
        bits: u8,
    },
    /// `BTF_KIND_PTR`.
    Ptr(u32),
    /// `BTF_KIND_ARRAY`.
    Array {
        /// Element type.
        elem: u32,
        /// Index type.
        index: u32,
        /// Number of elements.
        nelems: u32,
    },
    /// `BTF_KIND_STRUCT`.
    Struct {
        /// Byte size.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// `BTF_KIND_UNION`.
    Union {
        /// Byte size.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// `BTF_KIND_ENUM` or `BTF_KIND_ENUM64`.
    Enum {
        /// Byte size.
        size: u32,
        /// kind_flag: signed values.
        signed: bool,
        /// Whether this is an ENUM64.
        is64: bool,
        /// Enumerators.
        values: Vec<EnumValue>,
    },
    /// `BTF_KIND_FWD`.
    Fwd {
        /// Forward-declared union rather than struct.
        union: bool,
    },
    /// `BTF_KIND_TYPEDEF`.
    Typedef(u32),
    /// `BTF_KIND_VOLATILE`.
    Volatile(u32),
    /// `BTF_KIND_CONST`.
    Const(u32),
    /// `BTF_KIND_RESTRICT`.
    Restrict(u32),
    /// `BTF_KIND_FUNC`.
    Func {
        /// The FUNC_PROTO.
        proto: u32,
        /// 0 static, 1 global, 2 extern.
        linkage: u16,
    },
    /// `BTF_KIND_FUNC_PROTO`.
    FuncProto {
        /// Return type.
        ret: u32,
        /// Parameters.
        params: Vec<Param>,
    },
    /// `BTF_KIND_VAR`.
    Var {
        /// Variable type.
        ty: u32,
        /// 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    /// `BTF_KIND_DATASEC`.
    Datasec {
        /// Section size (0 in objects; libbpf fills it in).
        size: u32,
        /// Variables.
        vars: Vec<VarSecinfo>,
    },
    /// `BTF_KIND_FLOAT`.
    Float {
        /// Byte size.
        size: u32,
    },
    /// `BTF_KIND_DECL_TAG`.
    DeclTag {
        /// Tagged type.
        ty: u32,
        /// Member/parameter index or -1.
        component: i32,
    },
    /// `BTF_KIND_TYPE_TAG`.
    TypeTag(u32),
}

impl Kind {
    /// Type ids this type refers to.
    pub fn refs(&self) -> Vec<u32> {
        match self {
            Kind::Void | Kind::Int { .. } | Kind::Fwd { .. } | Kind::Float { .. } | Kind::Enum { .. } => vec![],
            Kind::Ptr(t)
            | Kind::Typedef(t)
            | Kind::Volatile(t)
            | Kind::Const(t)
            | Kind::Restrict(t)
            | Kind::TypeTag(t)
            | Kind::Func { proto: t, .. }
            | Kind::Var { ty: t, .. }
            | Kind::DeclTag { ty: t, .. } => vec![*t],
            Kind::Array { elem, index, .. } => vec![*elem, *index],
            Kind::Struct { members, .. } | Kind::Union { members, .. } => members.iter().map(|m| m.ty).collect(),
            Kind::FuncProto { ret, params } => std::iter::once(*ret).chain(params.iter().map(|p| p.ty)).collect(),
            Kind::Datasec { vars, .. } => vars.iter().map(|v| v.ty).collect(),
        }
    }

    /// The kernel's name of the kind.
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Void => "void",
            Kind::Int { .. } => "int",
            Kind::Ptr(_) => "ptr",
            Kind::Array { .. } => "array",
            Kind::Struct { .. } => "struct",
            Kind::Union { .. } => "union",
            Kind::Enum { is64: false, .. } => "enum",
            Kind::Enum { is64: true, .. } => "enum64",
            Kind::Fwd { .. } => "fwd",
            Kind::Typedef(_) => "typedef",
            Kind::Volatile(_) => "volatile",
            Kind::Const(_) => "const",
            Kind::Restrict(_) => "restrict",
            Kind::Func { .. } => "func",
            Kind::FuncProto { .. } => "func_proto",
            Kind::Var { .. } => "var",
            Kind::Datasec { .. } => "datasec",
            Kind::Float { .. } => "float",
            Kind::DeclTag { .. } => "decl_tag",
            Kind::TypeTag(_) => "type_tag",
        }
    }

    /// Struct or union.
    pub fn is_composite(&self) -> bool {
        matches!(self, Kind::Struct { .. } | Kind::Union { .. })
    }

    /// Members of a struct or union (empty otherwise).
    pub fn members(&self) -> &[Member] {
        match self {
            Kind::Struct { members, .. } | Kind::Union { members, .. } => members,
            _ => &[],
        }
    }

    /// The kind number as libbpf's `btf_kind_core_compat` sees it (ENUM64 counts as ENUM).
    pub fn core_compat_kind(&self) -> u32 {
        match self {
            Kind::Void => 0,
            Kind::Int { .. } => 1,
            Kind::Ptr(_) => 2,
            Kind::Array { .. } => 3,
            Kind::Struct { .. } => 4,
            Kind::Union { .. } => 5,
            Kind::Enum { .. } => 6,
            Kind::Fwd { .. } => 7,
            Kind::Typedef(_) => 8,
            Kind::Volatile(_) => 9,
            Kind::Const(_) => 10,
            Kind::Restrict(_) => 11,
            Kind::Func { .. } => 12,
            Kind::FuncProto { .. } => 13,
            Kind::Var { .. } => 14,
            Kind::Datasec { .. } => 15,
            Kind::Float { .. } => 16,
            Kind::DeclTag { .. } => 17,
            Kind::TypeTag(_) => 18,
        }
    }
}

/// A type: name plus kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Type {
    /// Name string offset.
    pub name_off: u32,
    /// What it is.
    pub kind: Kind,
}

pub(super) fn parse_types(out: &mut Vec<Type>, data: &[u8], what: &str) -> Result<(), BtfError> {
    let c = Cursor { data, what };
    let mut off = 0usize;
    while off < data.len() {
        let id = out.len() as u32;
        let detail = format!("type [{id}]");
        let name_off = c.u32_at(off, &detail)?;
        let info = c.u32_at(off + 4, &detail)?;
        let size_type = c.u32_at(off + 8, &detail)?;
        off += 12;
        let vlen = (info & 0xffff) as usize;
        let kind_num = (info >> 24) & 0x1f;
        let kflag = info >> 31 != 0;
        // Each vlen entry is at most 16 bytes; reject counts the data cannot hold before allocating.
        let need = |entry: usize| -> Result<(), BtfError> { c.bytes(off, vlen * entry, &detail).map(|_| ()) };
        let kind = match kind_num {
            1 => {
                let v = c.u32_at(off, &detail)?;
                off += 4;
                Kind::Int {
                    size: size_type,
                    encoding: ((v >> 24) & 0xf) as u8,
                    offset: ((v >> 16) & 0xff) as u8,
                    bits: (v & 0xff) as u8,
                }
            }
            2 => Kind::Ptr(size_type),
            3 => {
                let elem = c.u32_at(off, &detail)?;
                let index = c.u32_at(off + 4, &detail)?;
                let nelems = c.u32_at(off + 8, &detail)?;
                off += 12;
                Kind::Array { elem, index, nelems }
            }
            4 | 5 => {
                need(12)?;
                let mut members = Vec::with_capacity(vlen);
                for _ in 0..vlen {
                    let name_off = c.u32_at(off, &detail)?;
                    let ty = c.u32_at(off + 4, &detail)?;
                    let o = c.u32_at(off + 8, &detail)?;
                    off += 12;
                    let (bit_offset, bitfield_size) = if kflag { (o & 0xff_ffff, o >> 24) } else { (o, 0) };
                    members.push(Member { name_off, ty, bit_offset, bitfield_size });
                }
                if kind_num == 4 {
                    Kind::Struct { size: size_type, members }
                } else {
                    Kind::Union { size: size_type, members }
                }
            }
            6 | 19 => {
                let is64 = kind_num == 19;
                need(if is64 { 12 } else { 8 })?;
                let mut values = Vec::with_capacity(vlen);
                for _ in 0..vlen {
                    let name_off = c.u32_at(off, &detail)?;
                    let lo = c.u32_at(off + 4, &detail)?;
                    let value = if is64 {
                        let hi = c.u32_at(off + 8, &detail)?;
                        off += 12;
                        (u64::from(hi) << 32 | u64::from(lo)) as i64
                    } else {
                        off += 8;
                        if kflag { i64::from(lo as i32) } else { i64::from(lo) }
                    };
                    values.push(EnumValue { name_off, value });
                }
                Kind::Enum { size: size_type, signed: kflag, is64, values }
            }
            7 => Kind::Fwd { union: kflag },
            8 => Kind::Typedef(size_type),
            9 => Kind::Volatile(size_type),
            10 => Kind::Const(size_type),
            11 => Kind::Restrict(size_type),
            12 => Kind::Func { proto: size_type, linkage: vlen as u16 },
            13 => {
                need(8)?;
                let mut params = Vec::with_capacity(vlen);
                for _ in 0..vlen {
                    params.push(Param { name_off: c.u32_at(off, &detail)?, ty: c.u32_at(off + 4, &detail)? });
                    off += 8;
                }
                Kind::FuncProto { ret: size_type, params }
            }
            14 => {
                let linkage = c.u32_at(off, &detail)?;
                off += 4;
                Kind::Var { ty: size_type, linkage }
            }
            15 => {
                need(12)?;
                let mut vars = Vec::with_capacity(vlen);
                for _ in 0..vlen {
                    vars.push(VarSecinfo {
                        ty: c.u32_at(off, &detail)?,
                        offset: c.u32_at(off + 4, &detail)?,
                        size: c.u32_at(off + 8, &detail)?,
                    });
                    off += 12;
                }
                Kind::Datasec { size: size_type, vars }
            }
            16 => Kind::Float { size: size_type },
            17 => {
                let component = c.u32_at(off, &detail)? as i32;
                off += 4;
                Kind::DeclTag { ty: size_type, component }
            }
            18 => Kind::TypeTag(size_type),
            kind => return Err(BtfError::UnknownKind { what: what.into(), id, kind }),
        };
        out.push(Type { name_off, kind });
    }
    Ok(())
}
