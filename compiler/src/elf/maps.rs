//! Map definitions: BTF-defined (`SEC(".maps")`), legacy `struct bpf_map_def` (`SEC("maps")`) and the
//! global-data maps libbpf creates for `.data*`, `.rodata*` and `.bss*`.
//!
//! BTF-defined maps follow libbpf's `parse_btf_map_def`: each member of the map's struct is an encoded
//! attribute — `__uint(name, N)` is `int (*name)[N]`, so the value is the array's element count;
//! `__type(key, T)` is `T *key`, so the size is `sizeof(T)`; `__array(values, struct inner)` is a
//! zero-length array of pointers to the inner map's definition, whose initial slots come from
//! relocations in `.rel.maps`. Order follows libbpf: BTF maps in `.maps` DATASEC order, legacy maps, then
//! one internal map per data section in section order, so map indices agree with libbpf's.

use super::reader::{ElfFile, R_BPF_64_ABS64, reloc_name};
use super::{ElfError, InitRef, MapDef, MapKind};
use crate::btf::{Btf, Kind};
use goblin::elf::{section_header as sh, sym};

/// `BPF_MAP_TYPE_ARRAY`.
const MAP_ARRAY: u32 = 2;
/// `BPF_MAP_TYPE_PROG_ARRAY`.
const MAP_PROG_ARRAY: u32 = 3;
/// `BPF_MAP_TYPE_ARRAY_OF_MAPS`, `BPF_MAP_TYPE_HASH_OF_MAPS`.
const MAP_IN_MAP: [u32; 2] = [12, 13];
/// `BPF_F_RDONLY_PROG`.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_MMAPABLE`.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// Largest global-data section bpfc accepts (128 MiB).
pub const MAX_GLOBAL_DATA: u64 = 1 << 27;
/// Kernel limit on object names (`BPF_OBJ_NAME_LEN`), including the NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

/// Where a map's definition lives, for resolving relocations against it.
#[derive(Clone, Debug)]
pub struct MapSym {
    /// Section index.
    pub shndx: usize,
    /// Offset of the definition in the section (for data sections: 0, the whole section).
    pub offset: u64,
    /// Size of the definition.
    pub size: u64,
}

/// The kind of data section, by name (libbpf's rules).
pub fn data_kind(name: &str) -> Option<MapKind> {
    let is = |base: &str| name == base || name.starts_with(&format!("{base}."));
    if is(".data") {
        Some(MapKind::Data)
    } else if is(".rodata") {
        Some(MapKind::Rodata)
    } else if is(".bss") {
        Some(MapKind::Bss)
    } else {
        None
    }
}

/// libbpf's `internal_map_name`: up to 8 characters of the object name, then the section name (7
/// characters reserved); sections with a second dot (`.rodata.str1.1`) get no prefix. Characters the
/// kernel refuses become `_`.
pub fn internal_map_name(obj_name: &str, sec: &str) -> String {
    let sfx_len = sec.len().max(7);
    let pfx_len = if sec[1..].contains('.') { 0 } else { (BPF_OBJ_NAME_LEN - sfx_len - 1).min(obj_name.len()) };
    let pfx: String = obj_name.chars().take(pfx_len).collect();
    let name: String = format!("{pfx}{sec}");
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect()
}

struct Ctx<'e, 'a> {
    elf: &'e ElfFile<'a>,
    btf: Option<&'e Btf>,
}

impl Ctx<'_, '_> {
    fn err(&self, map: &str, detail: impl Into<String>) -> ElfError {
        ElfError::Map { file: self.elf.file.clone(), map: map.into(), detail: detail.into() }
    }
}

/// Reads every map of the object; returns the maps and, per map, where its definition lives.
pub fn read_maps(elf: &ElfFile<'_>, btf: Option<&Btf>, obj_name: &str) -> Result<(Vec<MapDef>, Vec<MapSym>), ElfError> {
    let cx = Ctx { elf, btf };
    let mut maps = Vec::new();
    let mut syms = Vec::new();
    if let Some(sec) = elf.section_by_name(".maps") {
        read_btf_maps(&cx, sec.index, &mut maps, &mut syms)?;
    }
    if let Some(sec) = elf.section_by_name("maps") {
        read_legacy_maps(&cx, sec.index, &mut maps, &mut syms)?;
    }
    for s in &elf.sections {
        let Some(kind) = data_kind(&s.name) else { continue };
        if s.flags & u64::from(sh::SHF_EXECINSTR) != 0
            || !(s.sh_type == sh::SHT_PROGBITS || s.sh_type == sh::SHT_NOBITS)
        {
            continue;
        }
        // The kernel refuses array values above KMALLOC_MAX_SIZE (a few MiB); bpfc's own bound keeps a
        // damaged `.bss` size from becoming a multi-GiB allocation.
        if s.size > MAX_GLOBAL_DATA {
            return Err(
                cx.err(&s.name, format!("section of {} bytes exceeds bpfc's limit of {MAX_GLOBAL_DATA} bytes", s.size))
            );
        }
        let size = s.size as u32;
        let init = if s.sh_type == sh::SHT_NOBITS { vec![0; size as usize] } else { s.data.to_vec() };
        let datasec = btf.and_then(|b| b.find_by_name(&s.name, |k| matches!(k, Kind::Datasec { .. })));
        // libbpf 1.1 (the system libbpf the oracle tests use) makes every global-data map mmapable;
        // libbpf >= 1.4 leaves out sections holding only static variables.
        let flags = if kind == MapKind::Rodata { BPF_F_RDONLY_PROG } else { 0 } | BPF_F_MMAPABLE;
        maps.push(MapDef {
            name: internal_map_name(obj_name, &s.name),
            section: s.name.clone(),
            map_type: MAP_ARRAY,
            key_size: 4,
            value_size: size,
            max_entries: 1,
            flags,
            pinning: 0,
            numa_node: 0,
            map_extra: 0,
            inner: None,
            init: Some(init),
            init_slots: Vec::new(),
            kind,
            btf_key_type_id: 0,
            btf_value_type_id: datasec.unwrap_or(0),
        });
        syms.push(MapSym { shndx: s.index, offset: 0, size: s.size });
    }
    Ok((maps, syms))
}

/// A map definition parsed from a BTF struct.
#[derive(Default)]
struct Def {
    map_type: u32,
    key_size: Option<u32>,
    value_size: Option<u32>,
    max_entries: u32,
    flags: u32,
    pinning: u32,
    numa_node: u32,
    map_extra: u64,
    key_type: u32,
    value_type: u32,
    inner: Option<Box<MapDef>>,
    values_off: Option<u32>,
}

/// `__uint(name, N)`: a pointer to an array of N elements.
fn uint_field(cx: &Ctx<'_, '_>, b: &Btf, map: &str, field: &str, ty: u32) -> Result<u32, ElfError> {
    let id = b.skip_mods_and_typedefs(ty).map_err(|e| cx.err(map, e.to_string()))?;
    let Kind::Ptr(arr) = b.ty(id).kind else {
        return Err(cx.err(map, format!("attribute `{field}` is not a pointer-to-array (__uint) encoding")));
    };
    let arr = b.skip_mods_and_typedefs(arr).map_err(|e| cx.err(map, e.to_string()))?;
    match b.ty(arr).kind {
        Kind::Array { nelems, .. } => Ok(nelems),
        _ => Err(cx.err(map, format!("attribute `{field}` does not point to an array"))),
    }
}

/// `__type(key, T)`: a pointer to T; returns (type id, size).
fn type_field(cx: &Ctx<'_, '_>, b: &Btf, map: &str, field: &str, ty: u32) -> Result<(u32, u32), ElfError> {
    let id = b.skip_mods_and_typedefs(ty).map_err(|e| cx.err(map, e.to_string()))?;
    let Kind::Ptr(t) = b.ty(id).kind else {
        return Err(cx.err(map, format!("attribute `{field}` is not a pointer (__type) encoding")));
    };
    let size = b.resolve_size(t).map_err(|e| cx.err(map, format!("attribute `{field}`: {e}")))?;
    Ok((t, size as u32))
}

fn parse_def(cx: &Ctx<'_, '_>, b: &Btf, map: &str, def_ty: u32, inner: bool) -> Result<Def, ElfError> {
    let id = b.skip_mods_and_typedefs(def_ty).map_err(|e| cx.err(map, e.to_string()))?;
    let Kind::Struct { members, .. } = &b.ty(id).kind else {
        return Err(cx.err(map, format!("definition is a {}, not a struct", b.ty(id).kind.name())));
    };
    let mut d = Def::default();
    for (i, m) in members.iter().enumerate() {
        let name = b.str_at(m.name_off);
        match name {
            "type" => d.map_type = uint_field(cx, b, map, name, m.ty)?,
            "max_entries" => d.max_entries = uint_field(cx, b, map, name, m.ty)?,
            "map_flags" => d.flags = uint_field(cx, b, map, name, m.ty)?,
            "numa_node" => d.numa_node = uint_field(cx, b, map, name, m.ty)?,
            "map_extra" => d.map_extra = uint_field(cx, b, map, name, m.ty)?.into(),
            "key_size" | "value_size" => {
                let v = uint_field(cx, b, map, name, m.ty)?;
                let slot = if name == "key_size" { &mut d.key_size } else { &mut d.value_size };
                if slot.is_some_and(|old| old != v) {
                    return Err(cx.err(map, format!("conflicting {name}: {} != {v}", slot.unwrap_or(0))));
                }
                *slot = Some(v);
            }
            "key" | "value" => {
                let (t, size) = type_field(cx, b, map, name, m.ty)?;
                let slot = if name == "key" { &mut d.key_size } else { &mut d.value_size };
                if slot.is_some_and(|old| old != size) {
                    return Err(cx.err(map, format!("conflicting {name} size: {} != {size}", slot.unwrap_or(0))));
                }
                *slot = Some(size);
                if name == "key" { d.key_type = t } else { d.value_type = t }
            }
            "values" => {
                if inner {
                    return Err(cx.err(map, "multi-level inner maps are not supported"));
                }
                if i + 1 != members.len() {
                    return Err(cx.err(map, "`values` must be the last member"));
                }
                let is_mim = MAP_IN_MAP.contains(&d.map_type);
                if !is_mim && d.map_type != MAP_PROG_ARRAY {
                    return Err(cx.err(map, "`values` is only allowed in map-in-map and prog_array maps"));
                }
                if d.value_size.is_some_and(|v| v != 4) {
                    return Err(cx.err(map, format!("conflicting value size {} != 4", d.value_size.unwrap_or(0))));
                }
                d.value_size = Some(4);
                let Kind::Array { elem, nelems: 0, .. } = b.ty(m.ty).kind else {
                    return Err(cx.err(map, "`values` must be a zero-sized array"));
                };
                let p = b.skip_mods_and_typedefs(elem).map_err(|e| cx.err(map, e.to_string()))?;
                let Kind::Ptr(t) = b.ty(p).kind else { return Err(cx.err(map, "`values` elements must be pointers")) };
                let t = b.skip_mods_and_typedefs(t).map_err(|e| cx.err(map, e.to_string()))?;
                d.values_off = Some(m.bit_offset / 8);
                if is_mim {
                    if !matches!(b.ty(t).kind, Kind::Struct { .. }) {
                        return Err(cx.err(map, "map-in-map `values` must point to a map definition struct"));
                    }
                    let iname = format!("{map}.inner");
                    let id = parse_def(cx, b, &iname, t, true)?;
                    d.inner = Some(Box::new(def_to_map(cx, iname, String::new(), id, MapKind::Btf)?));
                } else if !matches!(b.ty(t).kind, Kind::FuncProto { .. }) {
                    return Err(cx.err(map, "prog_array `values` must point to a function prototype"));
                }
            }
            "pinning" => {
                if inner {
                    return Err(cx.err(map, "inner maps cannot be pinned"));
                }
                d.pinning = uint_field(cx, b, map, name, m.ty)?;
                if d.pinning > 1 {
                    return Err(cx.err(map, format!("invalid pinning value {}", d.pinning)));
                }
            }
            other => return Err(cx.err(map, format!("unknown map attribute `{other}`"))),
        }
    }
    Ok(d)
}

fn def_to_map(cx: &Ctx<'_, '_>, name: String, section: String, d: Def, kind: MapKind) -> Result<MapDef, ElfError> {
    if d.map_type == 0 {
        return Err(cx.err(&name, "map type is not set (`__uint(type, ...)` missing)"));
    }
    Ok(MapDef {
        name,
        section,
        map_type: d.map_type,
        key_size: d.key_size.unwrap_or(0),
        value_size: d.value_size.unwrap_or(0),
        max_entries: d.max_entries,
        flags: d.flags,
        pinning: d.pinning,
        numa_node: d.numa_node,
        map_extra: d.map_extra,
        inner: d.inner,
        init: None,
        init_slots: Vec::new(),
        kind,
        btf_key_type_id: d.key_type,
        btf_value_type_id: d.value_type,
    })
}

fn read_btf_maps(
    cx: &Ctx<'_, '_>,
    shndx: usize,
    maps: &mut Vec<MapDef>,
    syms: &mut Vec<MapSym>,
) -> Result<(), ElfError> {
    let elf = cx.elf;
    let b = cx.btf.ok_or_else(|| ElfError::BadSection {
        file: elf.file.clone(),
        section: ".maps".into(),
        detail: "BTF-defined maps need a .BTF section, and the object has none".into(),
    })?;
    let sec = &elf.sections[shndx];
    let ds = b.find_by_name(".maps", |k| matches!(k, Kind::Datasec { .. })).ok_or_else(|| ElfError::BadSection {
        file: elf.file.clone(),
        section: ".maps".into(),
        detail: "no DATASEC `.maps` in BTF".into(),
    })?;
    let Kind::Datasec { vars, .. } = &b.ty(ds).kind else { unreachable!("found as datasec") };
    let first = maps.len();
    let mut values_offs = Vec::new();
    for v in vars {
        let Kind::Var { ty, .. } = b.ty(v.ty).kind else {
            return Err(ElfError::BadSection {
                file: elf.file.clone(),
                section: ".maps".into(),
                detail: format!("DATASEC entry [{}] is not a variable", v.ty),
            });
        };
        let name = b.name(v.ty).to_string();
        if u64::from(v.offset) + u64::from(v.size) > sec.size {
            return Err(cx.err(
                &name,
                format!("definition at {}+{} lies outside `.maps` ({} bytes)", v.offset, v.size, sec.size),
            ));
        }
        let d = parse_def(cx, b, &name, ty, false)?;
        values_offs.push(d.values_off);
        maps.push(def_to_map(cx, name, ".maps".into(), d, MapKind::Btf)?);
        syms.push(MapSym { shndx, offset: v.offset.into(), size: v.size.into() });
    }
    // Initial slots of map-in-map and prog_array maps: relocations inside their `values` arrays.
    for r in elf.relocs_for(shndx) {
        let bad = |detail: String| cx.err(&format!("at .maps+{}", r.offset), detail);
        if r.rtype != R_BPF_64_ABS64 {
            return Err(ElfError::BadRelocType {
                file: elf.file.clone(),
                section: ".maps".into(),
                reloc: r.number,
                offset: r.offset,
                rtype: r.rtype,
                name: reloc_name(r.rtype),
                allowed: "R_BPF_64_ABS64",
            });
        }
        let i = (first..maps.len())
            .find(|&i| syms[i].offset <= r.offset && r.offset < syms[i].offset + syms[i].size)
            .ok_or_else(|| bad("relocation outside every map definition".into()))?;
        let voff = values_offs[i - first]
            .ok_or_else(|| bad(format!("relocation in map `{}` which has no `values`", maps[i].name)))?;
        let moff = r.offset - syms[i].offset;
        if moff < u64::from(voff) || !(moff - u64::from(voff)).is_multiple_of(8) {
            return Err(bad(format!("relocation in map `{}` is not on a `values` slot", maps[i].name)));
        }
        let slot = ((moff - u64::from(voff)) / 8) as u32;
        let s = &elf.symbols[r.sym];
        let target = if maps[i].map_type == MAP_PROG_ARRAY {
            if s.typ != sym::STT_FUNC || s.shndx == 0 || !elf.sections.get(s.shndx).is_some_and(|x| x.is_exec()) {
                return Err(bad(format!(
                    "prog_array `{}` slot {slot} refers to `{}`, which is not a program",
                    maps[i].name, s.name
                )));
            }
            InitRef::Prog(s.name.clone())
        } else {
            if s.shndx != shndx {
                return Err(bad(format!(
                    "map `{}` slot {slot} refers to `{}`, which is not a map",
                    maps[i].name, s.name
                )));
            }
            InitRef::Map(s.name.clone())
        };
        maps[i].init_slots.push((slot, target));
    }
    Ok(())
}

fn read_legacy_maps(
    cx: &Ctx<'_, '_>,
    shndx: usize,
    maps: &mut Vec<MapDef>,
    syms: &mut Vec<MapSym>,
) -> Result<(), ElfError> {
    let elf = cx.elf;
    let sec = &elf.sections[shndx];
    let mut defs: Vec<_> =
        elf.symbols.iter().filter(|s| s.shndx == shndx && s.typ != sym::STT_SECTION && !s.name.is_empty()).collect();
    defs.sort_by_key(|s| s.value);
    if defs.is_empty() {
        return Ok(());
    }
    let def_size = sec.size / defs.len() as u64;
    if def_size < 20 || !sec.size.is_multiple_of(defs.len() as u64) {
        return Err(ElfError::BadSection {
            file: elf.file.clone(),
            section: "maps".into(),
            detail: format!("{} bytes do not divide into {} `struct bpf_map_def`s", sec.size, defs.len()),
        });
    }
    for s in defs {
        let off = s.value as usize;
        let raw = sec
            .data
            .get(off..off.saturating_add(20))
            .ok_or_else(|| cx.err(&s.name, "definition outside the `maps` section"))?;
        let u = |i: usize| u32::from_le_bytes([raw[i], raw[i + 1], raw[i + 2], raw[i + 3]]);
        let d = Def {
            map_type: u(0),
            key_size: Some(u(4)),
            value_size: Some(u(8)),
            max_entries: u(12),
            flags: u(16),
            ..Def::default()
        };
        maps.push(def_to_map(cx, s.name.clone(), "maps".into(), d, MapKind::Legacy)?);
        syms.push(MapSym { shndx, offset: s.value, size: def_size });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_like_libbpf() {
        assert_eq!(internal_map_name("globals", ".rodata"), "globals.rodata");
        assert_eq!(internal_map_name("my_object_name", ".rodata"), "my_objec.rodata");
        assert_eq!(internal_map_name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(internal_map_name("x", ".rodata.str1.1"), ".rodata.str1.1");
        assert_eq!(internal_map_name("a-b", ".data"), "a_b.data");
    }
}
