//! CO-RE ("compile once, run everywhere") relocation, as libbpf's `relo_core.c` does it.
//!
//! Algorithm, per record: parse the access string against the *local* (object) BTF into a spec (a chain
//! of accessors: the root array index, then member indices with names, array indices), then find target
//! candidates — every target type whose kind is CO-RE compatible (ENUM64 counts as ENUM) and whose name
//! equals the root's name once `___flavor` suffixes are cut from both — and match the spec against each:
//! members by exact name along the access string (descending into anonymous members), arrays by index
//! bound (flexible arrays allowed), leaf types compatible. Every matching candidate must give the same
//! value (and the same bit offset for field relocations), otherwise the relocation is ambiguous. With no
//! match, "exists" kinds give 0, type-based kinds give 0, and the others poison the instruction: it
//! becomes `call 0xbad2310` (an lddw becomes two such calls) so the verifier, or the runtime, refuses it
//! only if it is reachable. The runtime has no helper with that id: executing it traps with
//! `TrapCode::UnknownHelper` (detail 0xbad2310).
//!
//! Patching checks that the instruction still holds the value the compiler computed from the local BTF
//! ("validate"), as libbpf does, which catches a record pointing at the wrong instruction.

use super::ext::CoreReloRec;
use super::{Btf, BtfError, Kind, essential_name};
use std::collections::HashMap;

/// libbpf's `BPF_CORE_POISON_INSN_IMM`: the helper id of a poisoned instruction.
pub const POISON_HELPER_ID: i32 = 0xbad2310;
const MAX_SPEC_LEN: usize = 64;
const MAX_LEVEL: i32 = 32;

/// `enum bpf_core_relo_kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CoreKind {
    /// Field byte offset.
    FieldByteOffset = 0,
    /// Field byte size.
    FieldByteSize = 1,
    /// Field existence.
    FieldExists = 2,
    /// Field signedness.
    FieldSigned = 3,
    /// Bitfield left shift for u64 extraction.
    FieldLshiftU64 = 4,
    /// Bitfield right shift for u64 extraction.
    FieldRshiftU64 = 5,
    /// Type id in the object's BTF.
    TypeIdLocal = 6,
    /// Type id in the target BTF.
    TypeIdTarget = 7,
    /// Type existence.
    TypeExists = 8,
    /// Type size.
    TypeSize = 9,
    /// Enumerator existence.
    EnumvalExists = 10,
    /// Enumerator value.
    EnumvalValue = 11,
    /// Type layout match.
    TypeMatches = 12,
}

impl CoreKind {
    /// The kind for a record's raw value.
    pub fn from_u32(v: u32) -> Option<CoreKind> {
        use CoreKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// libbpf's name for the kind.
    pub fn name(self) -> &'static str {
        use CoreKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            TypeMatches => "type_matches",
        }
    }

    fn is_field(self) -> bool {
        (self as u32) <= 5
    }

    fn is_type(self) -> bool {
        matches!(
            self,
            CoreKind::TypeIdLocal
                | CoreKind::TypeIdTarget
                | CoreKind::TypeExists
                | CoreKind::TypeSize
                | CoreKind::TypeMatches
        )
    }

    fn is_enumval(self) -> bool {
        matches!(self, CoreKind::EnumvalExists | CoreKind::EnumvalValue)
    }
}

/// Why a CO-RE relocation could not be applied. `access` is the C spelling of the relocated access.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// The record's kind number is unknown.
    #[error("unknown CO-RE relocation kind {kind}")]
    UnknownKind {
        /// Raw kind.
        kind: u32,
    },
    /// The access string does not fit the local type.
    #[error("CO-RE {kind} relocation `{access}`: invalid access string: {detail}")]
    BadSpec {
        /// Relocation kind name.
        kind: &'static str,
        /// The access (type and raw string).
        access: String,
        /// What is wrong.
        detail: String,
    },
    /// Matching candidates disagree.
    #[error("CO-RE {kind} relocation `{access}`: ambiguous: candidates give {first} and {second}")]
    Ambiguous {
        /// Relocation kind name.
        kind: &'static str,
        /// The access.
        access: String,
        /// First result.
        first: String,
        /// Conflicting result.
        second: String,
    },
    /// The relocated instruction is not one CO-RE can patch, or holds an unexpected value.
    #[error("CO-RE {kind} relocation `{access}`: {detail}")]
    BadInsn {
        /// Relocation kind name.
        kind: &'static str,
        /// The access.
        access: String,
        /// What is wrong.
        detail: String,
    },
    /// A BTF lookup failed (corrupt BTF).
    #[error("CO-RE relocation `{access}`: {error}")]
    Btf {
        /// The access.
        access: String,
        /// The cause (shown in the message).
        error: BtfError,
    },
}

#[derive(Clone, Debug)]
struct Accessor {
    type_id: u32,
    idx: u32,
    name: Option<String>,
}

#[derive(Clone, Debug)]
struct Spec {
    root_type_id: u32,
    spec: Vec<Accessor>,
    raw: Vec<u32>,
    bit_offset: u64,
}

/// A target BTF with its candidate index (types by essential name), built once and shared by all
/// relocations of all programs.
pub struct CoreTarget<'a> {
    btf: &'a Btf,
    by_name: HashMap<&'a str, Vec<u32>>,
}

impl<'a> CoreTarget<'a> {
    /// Indexes `btf` by essential name.
    pub fn new(btf: &'a Btf) -> CoreTarget<'a> {
        let mut by_name: HashMap<&str, Vec<u32>> = HashMap::new();
        for id in 1..btf.type_count() {
            let name = btf.name(id);
            if !name.is_empty() {
                by_name.entry(essential_name(name)).or_default().push(id);
            }
        }
        CoreTarget { btf, by_name }
    }

    /// The target BTF.
    pub fn btf(&self) -> &'a Btf {
        self.btf
    }
}

/// The outcome of resolving one relocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreResult {
    /// Value computed from the local BTF (what clang put in the instruction).
    pub orig_val: u64,
    /// Value for the target.
    pub new_val: u64,
    /// Field size in the local BTF (load/store size adjustment).
    pub orig_sz: u32,
    /// Field size in the target.
    pub new_sz: u32,
    /// Replace the instruction with a call to helper [`POISON_HELPER_ID`].
    pub poison: bool,
    /// Check the instruction holds `orig_val` before patching.
    pub validate: bool,
    /// Sizes differ in a way a load/store cannot be adjusted for.
    pub fail_memsz_adjust: bool,
}

/// C-like spelling of a relocation for messages: `struct task_struct::pid (0:92)`.
pub fn describe(local: &Btf, rec: &CoreReloRec) -> String {
    let raw = local.str_at(rec.access_str_off);
    let mut out = local.describe(rec.type_id);
    let kind = CoreKind::from_u32(rec.kind);
    if let Some(k) = kind
        && let Ok(spec) = parse_spec(local, rec.type_id, raw, k)
    {
        if k.is_field() {
            for a in spec.spec.iter().skip(1) {
                match &a.name {
                    Some(n) => {
                        out.push_str("::");
                        out.push_str(n);
                    }
                    None => out.push_str(&format!("[{}]", a.idx)),
                }
            }
        } else if k.is_enumval()
            && let Some(n) = spec.spec.first().and_then(|a| a.name.as_ref())
        {
            out.push_str("::");
            out.push_str(n);
        }
    }
    format!("{out} ({raw})")
}

fn bad_spec(kind: CoreKind, local: &Btf, type_id: u32, raw: &str, detail: impl Into<String>) -> CoreError {
    CoreError::BadSpec {
        kind: kind.name(),
        access: format!("{} ({raw})", local.describe(type_id)),
        detail: detail.into(),
    }
}

fn parse_spec(btf: &Btf, type_id: u32, raw_str: &str, kind: CoreKind) -> Result<Spec, CoreError> {
    let bad = |d: String| bad_spec(kind, btf, type_id, raw_str, d);
    let btf_err = |e: BtfError| bad(e.to_string());
    if raw_str.is_empty() || raw_str.starts_with(':') {
        return Err(bad("empty".into()));
    }
    let mut raw = Vec::new();
    for part in raw_str.split(':') {
        let v: u32 = part.parse().map_err(|_| bad(format!("`{part}` is not a number")))?;
        raw.push(v);
        if raw.len() > MAX_SPEC_LEN {
            return Err(bad(format!("longer than {MAX_SPEC_LEN}")));
        }
    }
    if type_id >= btf.type_count() {
        return Err(bad(format!("type [{type_id}] does not exist")));
    }
    let mut spec = Spec { root_type_id: type_id, spec: Vec::new(), raw: raw.clone(), bit_offset: 0 };
    if kind.is_type() {
        if raw_str != "0" {
            return Err(bad("type-based relocations use access string \"0\"".into()));
        }
        return Ok(spec);
    }
    let mut id = btf.skip_mods_and_typedefs(type_id).map_err(btf_err)?;
    let first = raw[0];
    if kind.is_enumval() {
        let Kind::Enum { values, .. } = &btf.ty(id).kind else {
            return Err(bad(format!("{} is not an enum", btf.describe(id))));
        };
        if raw.len() > 1 || first as usize >= values.len() {
            return Err(bad(format!("enumerator index {first} out of range")));
        }
        let name = btf.str_at(values[first as usize].name_off).to_string();
        spec.spec.push(Accessor { type_id: id, idx: first, name: Some(name) });
        return Ok(spec);
    }
    spec.spec.push(Accessor { type_id: id, idx: first, name: None });
    let sz = btf.resolve_size(id).map_err(btf_err)?;
    spec.bit_offset = u64::from(first).saturating_mul(sz).saturating_mul(8);
    for &idx in &raw[1..] {
        id = btf.skip_mods_and_typedefs(id).map_err(btf_err)?;
        let t = btf.ty(id);
        match &t.kind {
            Kind::Struct { members, .. } | Kind::Union { members, .. } => {
                let m = members
                    .get(idx as usize)
                    .ok_or_else(|| bad(format!("member {idx} of {} out of range", btf.describe(id))))?;
                spec.bit_offset = spec.bit_offset.saturating_add(u64::from(m.bit_offset));
                if m.name_off != 0 {
                    spec.spec.push(Accessor { type_id: id, idx, name: Some(btf.str_at(m.name_off).to_string()) });
                }
                id = m.ty;
            }
            Kind::Array { elem, nelems, .. } => {
                let flex = is_flex_arr(btf, spec.spec.last(), *nelems);
                id = btf.skip_mods_and_typedefs(*elem).map_err(btf_err)?;
                if !flex && idx >= *nelems {
                    return Err(bad(format!("array index {idx} >= {nelems}")));
                }
                spec.spec.push(Accessor { type_id: id, idx, name: None });
                let sz = btf.resolve_size(id).map_err(btf_err)?;
                spec.bit_offset = spec.bit_offset.saturating_add(u64::from(idx).saturating_mul(sz).saturating_mul(8));
            }
            k => return Err(bad(format!("access through a {} ({})", k.name(), btf.describe(id)))),
        }
    }
    Ok(spec)
}

fn is_flex_arr(btf: &Btf, acc: Option<&Accessor>, nelems: u32) -> bool {
    match acc {
        Some(a) if a.name.is_some() && nelems == 0 => btf.ty(a.type_id).kind.members().len() == a.idx as usize + 1,
        _ => false,
    }
}

fn names_eq_essential(a: &str, b: &str) -> bool {
    essential_name(a) == essential_name(b)
}

fn skip(btf: &Btf, id: u32) -> Result<u32, BtfError> {
    btf.skip_mods_and_typedefs(id)
}

/// libbpf's `bpf_core_fields_are_compat`.
fn fields_compat(lb: &Btf, lid: u32, tb: &Btf, tid: u32) -> Result<bool, BtfError> {
    let (mut lid, mut tid) = (skip(lb, lid)?, skip(tb, tid)?);
    for _ in 0..MAX_LEVEL {
        let (lk, tk) = (&lb.ty(lid).kind, &tb.ty(tid).kind);
        if lk.is_composite() && tk.is_composite() {
            return Ok(true);
        }
        if lk.core_compat_kind() != tk.core_compat_kind() {
            return Ok(false);
        }
        return Ok(match (lk, tk) {
            (Kind::Ptr(_), _) | (Kind::Float { .. }, _) => true,
            (Kind::Fwd { .. }, _) | (Kind::Enum { .. }, _) => {
                let (ln, tn) = (essential_name(lb.name(lid)), essential_name(tb.name(tid)));
                ln.is_empty() || tn.is_empty() || ln == tn
            }
            (Kind::Int { offset: lo, .. }, Kind::Int { offset: to, .. }) => *lo == 0 && *to == 0,
            (Kind::Array { elem: le, .. }, Kind::Array { elem: te, .. }) => {
                lid = skip(lb, *le)?;
                tid = skip(tb, *te)?;
                continue;
            }
            _ => false,
        });
    }
    Ok(false)
}

/// libbpf's `bpf_core_types_are_compat`.
fn types_compat(lb: &Btf, lid: u32, tb: &Btf, tid: u32, level: i32) -> Result<bool, BtfError> {
    let (mut lid, mut tid) = (lid, tid);
    let mut level = level;
    loop {
        level -= 1;
        if level < 0 {
            return Ok(false);
        }
        lid = skip(lb, lid)?;
        tid = skip(tb, tid)?;
        let (lk, tk) = (&lb.ty(lid).kind, &tb.ty(tid).kind);
        if lk.core_compat_kind() != tk.core_compat_kind() {
            return Ok(false);
        }
        match (lk, tk) {
            (Kind::Void | Kind::Struct { .. } | Kind::Union { .. } | Kind::Enum { .. } | Kind::Fwd { .. }, _) => {
                return Ok(true);
            }
            (Kind::Int { offset: lo, .. }, Kind::Int { offset: to, .. }) => return Ok(*lo == 0 && *to == 0),
            (Kind::Ptr(l), Kind::Ptr(t)) => (lid, tid) = (*l, *t),
            (Kind::Array { elem: l, .. }, Kind::Array { elem: t, .. }) => (lid, tid) = (*l, *t),
            (Kind::FuncProto { ret: lr, params: lp }, Kind::FuncProto { ret: tr, params: tp }) => {
                if lp.len() != tp.len() {
                    return Ok(false);
                }
                for (l, t) in lp.iter().zip(tp) {
                    if !types_compat(lb, l.ty, tb, t.ty, level - 1)? {
                        return Ok(false);
                    }
                }
                (lid, tid) = (*lr, *tr);
            }
            _ => return Ok(false),
        }
    }
}

fn names_match(lb: &Btf, loff: u32, tb: &Btf, toff: u32) -> bool {
    let (l, t) = (lb.str_at(loff), tb.str_at(toff));
    if t.is_empty() {
        return l.is_empty();
    }
    names_eq_essential(l, t)
}

/// libbpf's `__bpf_core_types_match` (TYPE_MATCHES).
fn types_match(lb: &Btf, lid: u32, tb: &Btf, tid: u32, behind_ptr: bool, level: i32) -> Result<bool, BtfError> {
    if level <= 0 {
        return Ok(false);
    }
    let (mut lid, mut tid, mut behind_ptr) = (lid, tid, behind_ptr);
    for _ in 0..MAX_LEVEL {
        lid = skip(lb, lid)?;
        tid = skip(tb, tid)?;
        let (lt, tt) = (lb.ty(lid), tb.ty(tid));
        if !names_match(lb, lt.name_off, tb, tt.name_off) {
            return Ok(false);
        }
        let (lk, tk) = (&lt.kind, &tt.kind);
        return Ok(match lk {
            Kind::Void => matches!(tk, Kind::Void),
            Kind::Fwd { union: lf } => match tk {
                Kind::Fwd { union: tf } => lf == tf,
                Kind::Struct { .. } if behind_ptr => !lf,
                Kind::Union { .. } if behind_ptr => *lf,
                _ => false,
            },
            Kind::Enum { size: ls, values: lv, .. } => match tk {
                Kind::Enum { size: ts, values: tv, .. } => {
                    ls == ts
                        && lv.len() <= tv.len()
                        && lv.iter().all(|l| tv.iter().any(|t| names_match(lb, l.name_off, tb, t.name_off)))
                }
                _ => false,
            },
            Kind::Struct { members: lm, .. } | Kind::Union { members: lm, .. } => {
                let same_kind = std::mem::discriminant(lk) == std::mem::discriminant(tk);
                if behind_ptr {
                    if same_kind {
                        true
                    } else if let Kind::Fwd { union } = tk {
                        matches!(lk, Kind::Union { .. }) == *union
                    } else {
                        false
                    }
                } else {
                    if !same_kind {
                        return Ok(false);
                    }
                    let tm = tk.members();
                    if lm.len() > tm.len() {
                        return Ok(false);
                    }
                    for l in lm {
                        let mut matched = false;
                        for t in tm {
                            if names_match(lb, l.name_off, tb, t.name_off)
                                && types_match(lb, l.ty, tb, t.ty, behind_ptr, level - 1)?
                            {
                                matched = true;
                                break;
                            }
                        }
                        if !matched {
                            return Ok(false);
                        }
                    }
                    true
                }
            }
            Kind::Int { size: ls, encoding: le, .. } => match tk {
                Kind::Int { size: ts, encoding: te, .. } => ls == ts && (le & 1) == (te & 1),
                _ => false,
            },
            Kind::Ptr(l) => match tk {
                Kind::Ptr(t) => {
                    behind_ptr = true;
                    (lid, tid) = (*l, *t);
                    continue;
                }
                _ => false,
            },
            Kind::Array { elem: le, nelems: ln, .. } => match tk {
                Kind::Array { elem: te, nelems: tn, .. } if ln == tn => {
                    (lid, tid) = (*le, *te);
                    continue;
                }
                _ => false,
            },
            Kind::FuncProto { ret: lr, params: lp } => match tk {
                Kind::FuncProto { ret: tr, params: tp } if lp.len() == tp.len() => {
                    for (l, t) in lp.iter().zip(tp) {
                        if !types_match(lb, l.ty, tb, t.ty, behind_ptr, level - 1)? {
                            return Ok(false);
                        }
                    }
                    (lid, tid) = (*lr, *tr);
                    continue;
                }
                _ => false,
            },
            _ => false,
        });
    }
    Ok(false)
}

/// libbpf's `bpf_core_match_member`: finds the local accessor's member by name in target type `tid`,
/// descending into anonymous members; pushes the raw indices and accessor onto `ts`.
fn match_member(
    lb: &Btf,
    lacc: &Accessor,
    tb: &Btf,
    tid: u32,
    ts: &mut Spec,
    next: &mut u32,
) -> Result<bool, BtfError> {
    let tid = skip(tb, tid)?;
    let tt = tb.ty(tid);
    if !tt.kind.is_composite() {
        return Ok(false);
    }
    let lm = &lb.ty(lacc.type_id).kind.members()[lacc.idx as usize];
    let lname = lb.str_at(lm.name_off);
    for (i, m) in tt.kind.members().iter().enumerate() {
        if ts.raw.len() >= MAX_SPEC_LEN {
            return Ok(false);
        }
        ts.bit_offset = ts.bit_offset.saturating_add(u64::from(m.bit_offset));
        ts.raw.push(i as u32);
        let tname = tb.str_at(m.name_off);
        if tname.is_empty() {
            if match_member(lb, lacc, tb, m.ty, ts, next)? {
                return Ok(true);
            }
        } else if tname == lname {
            *next = m.ty;
            if fields_compat(lb, lm.ty, tb, m.ty)? {
                ts.spec.push(Accessor { type_id: tid, idx: i as u32, name: Some(tname.to_string()) });
                return Ok(true);
            }
            return Ok(false);
        }
        ts.bit_offset = ts.bit_offset.saturating_sub(u64::from(m.bit_offset));
        ts.raw.pop();
    }
    Ok(false)
}

/// libbpf's `bpf_core_spec_match`: `Some(target spec)` when candidate `tid` matches.
fn spec_match(local: &Spec, kind: CoreKind, lb: &Btf, tb: &Btf, tid: u32) -> Result<Option<Spec>, BtfError> {
    let mut ts = Spec { root_type_id: tid, spec: Vec::new(), raw: Vec::new(), bit_offset: 0 };
    if kind.is_type() {
        let ok = if kind == CoreKind::TypeMatches {
            types_match(lb, local.root_type_id, tb, tid, false, MAX_LEVEL)?
        } else {
            types_compat(lb, local.root_type_id, tb, tid, MAX_LEVEL)?
        };
        return Ok(ok.then_some(ts));
    }
    if kind.is_enumval() {
        let tid = skip(tb, tid)?;
        let Kind::Enum { values, .. } = &tb.ty(tid).kind else { return Ok(None) };
        let lname = local.spec[0].name.as_deref().unwrap_or("");
        for (i, v) in values.iter().enumerate() {
            let tname = tb.str_at(v.name_off);
            if names_eq_essential(lname, tname) {
                ts.spec.push(Accessor { type_id: tid, idx: i as u32, name: Some(tname.to_string()) });
                ts.raw.push(i as u32);
                return Ok(Some(ts));
            }
        }
        return Ok(None);
    }
    let mut tid = tid;
    for (i, lacc) in local.spec.iter().enumerate() {
        tid = skip(tb, tid)?;
        if lacc.name.is_some() {
            let mut next = 0;
            if !match_member(lb, lacc, tb, tid, &mut ts, &mut next)? {
                return Ok(None);
            }
            tid = next;
        } else {
            if i > 0 {
                let Kind::Array { elem, nelems, .. } = tb.ty(tid).kind else { return Ok(None) };
                let flex = is_flex_arr(tb, ts.spec.last(), nelems);
                if !flex && lacc.idx >= nelems {
                    return Ok(None);
                }
                tid = skip(tb, elem)?;
            }
            if ts.raw.len() >= MAX_SPEC_LEN {
                return Ok(None);
            }
            ts.spec.push(Accessor { type_id: tid, idx: lacc.idx, name: None });
            ts.raw.push(lacc.idx);
            let sz = tb.resolve_size(tid)?;
            ts.bit_offset = ts.bit_offset.saturating_add(u64::from(lacc.idx).saturating_mul(sz).saturating_mul(8));
        }
    }
    Ok(Some(ts))
}

/// Field value and size; `Err(None)` means "poison".
struct FieldVal {
    val: u64,
    sz: u32,
    type_id: u32,
    validate: bool,
}

fn calc_field(btf: &Btf, spec: Option<&Spec>, kind: CoreKind) -> Result<Option<FieldVal>, String> {
    if kind == CoreKind::FieldExists {
        return Ok(Some(FieldVal { val: u64::from(spec.is_some()), sz: 0, type_id: 0, validate: true }));
    }
    let Some(spec) = spec else { return Ok(None) };
    let e = |e: BtfError| e.to_string();
    let acc = spec.spec.last().ok_or("empty spec")?;
    let Some(_) = &acc.name else {
        let sz = btf.resolve_size(acc.type_id).map_err(e)?;
        let val = match kind {
            CoreKind::FieldByteOffset => spec.bit_offset / 8,
            CoreKind::FieldByteSize => sz,
            _ => return Err(format!("relocation kind {} can't be applied to array access", kind.name())),
        };
        return Ok(Some(FieldVal { val, sz: sz as u32, type_id: acc.type_id, validate: true }));
    };
    let t = btf.ty(acc.type_id);
    let m = &t.kind.members()[acc.idx as usize];
    let field_type_id = skip(btf, m.ty).map_err(e)?;
    let mt = btf.ty(field_type_id);
    let bit_off = spec.bit_offset;
    let mut bit_sz = u64::from(m.bitfield_size);
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz);
    if bitfield {
        let mut bs = btf.resolve_size(field_type_id).map_err(e)?;
        if bs == 0 {
            return Err("zero-sized bitfield type".into());
        }
        let mut bo = bit_off / 8 / bs * bs;
        while bit_off.saturating_add(bit_sz) - bo * 8 > bs * 8 {
            if bs >= 8 {
                return Err("bitfield can't be read with a 64-bit load".into());
            }
            bs *= 2;
            bo = bit_off / 8 / bs * bs;
        }
        (byte_off, byte_sz) = (bo, bs);
    } else {
        byte_sz = btf.resolve_size(field_type_id).map_err(e)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz.saturating_mul(8);
    }
    let mut validate = !bitfield;
    let val = match kind {
        CoreKind::FieldByteOffset => byte_off,
        CoreKind::FieldByteSize => byte_sz,
        CoreKind::FieldSigned => {
            validate = true;
            u64::from(match &mt.kind {
                Kind::Enum { signed, .. } => *signed,
                Kind::Int { encoding, .. } => encoding & 1 != 0,
                _ => false,
            })
        }
        // libbpf computes these in 32-bit unsigned arithmetic; absurd inputs wrap rather than fail.
        CoreKind::FieldLshiftU64 => 64u64.wrapping_sub(bit_off.saturating_add(bit_sz) - byte_off * 8),
        CoreKind::FieldRshiftU64 => {
            validate = true;
            64u64.wrapping_sub(bit_sz)
        }
        _ => return Err(format!("{} is not a field relocation", kind.name())),
    };
    let (sz, type_id) =
        if kind == CoreKind::FieldByteOffset && !bitfield { (byte_sz as u32, field_type_id) } else { (0, 0) };
    Ok(Some(FieldVal { val, sz, type_id, validate }))
}

fn calc_type(btf: &Btf, spec: Option<&Spec>, kind: CoreKind) -> Result<(u64, bool), String> {
    let Some(spec) = spec else { return Ok((0, true)) };
    Ok(match kind {
        CoreKind::TypeIdTarget => (u64::from(spec.root_type_id), false),
        CoreKind::TypeExists | CoreKind::TypeMatches => (1, true),
        CoreKind::TypeSize => (btf.resolve_size(spec.root_type_id).map_err(|e| e.to_string())?, true),
        _ => return Err(format!("{} is not a type relocation", kind.name())),
    })
}

fn calc_enumval(btf: &Btf, spec: Option<&Spec>, kind: CoreKind) -> Option<u64> {
    match kind {
        CoreKind::EnumvalExists => Some(u64::from(spec.is_some())),
        _ => {
            let a = &spec?.spec[0];
            match &btf.ty(a.type_id).kind {
                Kind::Enum { values, .. } => values.get(a.idx as usize).map(|v| v.value as u64),
                _ => None,
            }
        }
    }
}

/// libbpf's `bpf_core_calc_relo`: the result for one (local, target) spec pair.
fn calc_relo(lb: &Btf, tb: &Btf, kind: CoreKind, local: &Spec, targ: Option<&Spec>) -> Result<CoreResult, String> {
    let mut r = CoreResult {
        orig_val: 0,
        new_val: 0,
        orig_sz: 0,
        new_sz: 0,
        poison: false,
        validate: true,
        fail_memsz_adjust: false,
    };
    if kind.is_field() {
        let orig = calc_field(lb, Some(local), kind)?.ok_or("local spec")?;
        let Some(new) = calc_field(tb, targ, kind)? else {
            r.poison = true;
            return Ok(r);
        };
        r.orig_val = orig.val;
        r.orig_sz = orig.sz;
        r.validate = orig.validate;
        r.new_val = new.val;
        r.new_sz = new.sz;
        if kind == CoreKind::FieldByteOffset && r.orig_sz != r.new_sz {
            let (ot, nt) = (&lb.ty(orig.type_id).kind, &tb.ty(new.type_id).kind);
            let ok = matches!((ot, nt), (Kind::Ptr(_), Kind::Ptr(_)))
                || matches!((ot, nt), (Kind::Int { encoding: a, .. }, Kind::Int { encoding: b, .. }) if a & 1 == 0 && b & 1 == 0);
            r.fail_memsz_adjust = !ok;
        }
    } else if kind.is_type() {
        (r.orig_val, r.validate) = calc_type(lb, Some(local), kind)?;
        (r.new_val, _) = calc_type(tb, targ, kind)?;
        if kind == CoreKind::TypeIdTarget {
            r.validate = false;
        }
    } else {
        r.orig_val = calc_enumval(lb, Some(local), kind).ok_or("local enumerator")?;
        match calc_enumval(tb, targ, kind) {
            Some(v) => r.new_val = v,
            None => r.poison = true,
        }
    }
    Ok(r)
}

/// Resolves one relocation record (libbpf's `bpf_core_calc_relo_insn`).
pub fn resolve(local: &Btf, target: &CoreTarget<'_>, rec: &CoreReloRec) -> Result<CoreResult, CoreError> {
    let kind = CoreKind::from_u32(rec.kind).ok_or(CoreError::UnknownKind { kind: rec.kind })?;
    let raw = local.str_at(rec.access_str_off);
    let access = || describe(local, rec);
    let lspec = parse_spec(local, rec.type_id, raw, kind)?;
    if kind == CoreKind::TypeIdLocal {
        let v = u64::from(rec.type_id);
        return Ok(CoreResult {
            orig_val: v,
            new_val: v,
            orig_sz: 0,
            new_sz: 0,
            poison: false,
            validate: true,
            fail_memsz_adjust: false,
        });
    }
    let tb = target.btf;
    let root_name = local.name(rec.type_id);
    if root_name.is_empty() {
        return Err(bad_spec(
            kind,
            local,
            rec.type_id,
            raw,
            "the root type is anonymous, so it has no target candidates",
        ));
    }
    let lkind = local.ty(rec.type_id).kind.core_compat_kind();
    let cands = target.by_name.get(essential_name(root_name)).map(Vec::as_slice).unwrap_or(&[]);
    let btf_err = |error| CoreError::Btf { access: access(), error };
    let mut best: Option<(CoreResult, Spec)> = None;
    for &cid in cands {
        if tb.ty(cid).kind.core_compat_kind() != lkind {
            continue;
        }
        let Some(ts) = spec_match(&lspec, kind, local, tb, cid).map_err(btf_err)? else { continue };
        let res = calc_relo(local, tb, kind, &lspec, Some(&ts)).map_err(|detail| CoreError::BadInsn {
            kind: kind.name(),
            access: access(),
            detail,
        })?;
        match &best {
            None => best = Some((res, ts)),
            Some((b, bs)) => {
                if kind.is_field() && bs.bit_offset != ts.bit_offset {
                    return Err(CoreError::Ambiguous {
                        kind: kind.name(),
                        access: access(),
                        first: format!("bit offset {} ([{}])", bs.bit_offset, bs.root_type_id),
                        second: format!("bit offset {} ([{}])", ts.bit_offset, ts.root_type_id),
                    });
                }
                if b.poison != res.poison || b.new_val != res.new_val {
                    return Err(CoreError::Ambiguous {
                        kind: kind.name(),
                        access: access(),
                        first: format!("{} ([{}])", b.new_val, bs.root_type_id),
                        second: format!("{} ([{}])", res.new_val, ts.root_type_id),
                    });
                }
            }
        }
    }
    match best {
        Some((r, _)) => Ok(r),
        None => calc_relo(local, tb, kind, &lspec, None).map_err(|detail| CoreError::BadInsn {
            kind: kind.name(),
            access: access(),
            detail,
        }),
    }
}

/// Applies a result to the instruction at `insn` (8 bytes, or 16 for an lddw) — libbpf's
/// `bpf_core_patch_insn`.
pub fn patch_insn(insn: &mut [u8], res: &CoreResult, local: &Btf, rec: &CoreReloRec) -> Result<(), CoreError> {
    let kind = CoreKind::from_u32(rec.kind).map_or("?", CoreKind::name);
    let bad = |detail: String| CoreError::BadInsn { kind, access: describe(local, rec), detail };
    if insn.len() < 8 {
        return Err(bad("instruction is truncated".into()));
    }
    let code = insn[0];
    let is_lddw = code == 0x18;
    if res.poison {
        let n = if is_lddw && insn.len() >= 16 { 2 } else { 1 };
        for k in 0..n {
            let s = &mut insn[8 * k..8 * k + 8];
            s.fill(0);
            s[0] = 0x85;
            s[4..8].copy_from_slice(&POISON_HELPER_ID.to_le_bytes());
        }
        return Ok(());
    }
    let imm = i32::from_le_bytes([insn[4], insn[5], insn[6], insn[7]]);
    let off = i16::from_le_bytes([insn[2], insn[3]]);
    match code & 7 {
        0x04 | 0x07 => {
            if code & 0x08 != 0 {
                return Err(bad(format!(
                    "ALU instruction {code:#04x} has a register operand; CO-RE patches immediates"
                )));
            }
            if res.validate && imm as u32 as u64 != res.orig_val & 0xffff_ffff {
                return Err(bad(format!("unexpected immediate {imm} (expected {})", res.orig_val)));
            }
            insn[4..8].copy_from_slice(&(res.new_val as u32).to_le_bytes());
        }
        0x01..=0x03 => {
            if res.validate && i64::from(off) as u64 != res.orig_val {
                return Err(bad(format!("unexpected offset {off} (expected {})", res.orig_val)));
            }
            if res.new_val > i16::MAX as u64 {
                return Err(bad(format!("offset {} does not fit in 16 bits", res.new_val)));
            }
            insn[2..4].copy_from_slice(&(res.new_val as i16).to_le_bytes());
            if res.fail_memsz_adjust {
                return Err(bad(format!(
                    "field size changes from {} to {} bytes in a way a load/store cannot be adjusted for",
                    res.orig_sz, res.new_sz
                )));
            }
            if res.orig_sz != res.new_sz && res.orig_sz != 0 {
                let cur = match code & 0x18 {
                    0x00 => 4,
                    0x08 => 2,
                    0x10 => 1,
                    _ => 8,
                };
                if cur != res.orig_sz {
                    return Err(bad(format!("unexpected access size {cur} (expected {})", res.orig_sz)));
                }
                let bits = match res.new_sz {
                    1 => 0x10,
                    2 => 0x08,
                    4 => 0x00,
                    8 => 0x18,
                    n => return Err(bad(format!("no load/store of {n} bytes"))),
                };
                insn[0] = (code & !0x18) | bits;
            }
        }
        0x00 if is_lddw => {
            if insn.len() < 16 {
                return Err(bad("lddw is truncated".into()));
            }
            let hi = u32::from_le_bytes([insn[12], insn[13], insn[14], insn[15]]);
            let cur = u64::from(imm as u32) | u64::from(hi) << 32;
            if res.validate && cur != res.orig_val {
                return Err(bad(format!("unexpected 64-bit immediate {cur} (expected {})", res.orig_val)));
            }
            insn[4..8].copy_from_slice(&(res.new_val as u32).to_le_bytes());
            insn[12..16].copy_from_slice(&((res.new_val >> 32) as u32).to_le_bytes());
        }
        _ => return Err(bad(format!("instruction with opcode {code:#04x} cannot carry a CO-RE relocation"))),
    }
    Ok(())
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
