//! Native relocatable objects (cranelift-object) for any supported target, and linking them into a shared
//! library with the system C compiler.
//!
//! The object holds one exported entry per program (`bpfc_prog_<name>`), local functions for everything
//! else, and the exported `bpfc_object` descriptor (`abi::ObjectDesc`) with its program, map and helper
//! tables. Every pointer in the descriptor is a relocation against a symbol of the same object, so the
//! object has no undefined symbols and links with any system linker.

use super::*;
use bpfc_runtime::abi::{MapDesc, ObjectDesc, ProgDesc};
use cranelift_module::DataDescription;
use cranelift_object::{ObjectBuilder, ObjectModule};
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

/// What a native object contains besides code.
#[derive(Clone, Debug, Default)]
pub struct ObjectSource<'a> {
    /// Programs, in descriptor order.
    pub programs: Vec<ProgramSource<'a>>,
    /// Maps, indexed as `env.maps`.
    pub maps: Vec<MapDecl>,
    /// License string.
    pub license: String,
}

/// A built object.
#[derive(Clone, Debug)]
pub struct BuiltObject {
    /// ELF bytes.
    pub bytes: Vec<u8>,
    /// Machine-code listing per function, when requested.
    pub asm: Vec<(String, String)>,
    /// BPF instructions compiled.
    pub insns: usize,
}

/// Little helper to lay out descriptor bytes in the target's byte order.
struct Bytes {
    data: Vec<u8>,
    big_endian: bool,
}

impl Bytes {
    fn new(len: usize, big_endian: bool) -> Bytes {
        Bytes { data: vec![0; len], big_endian }
    }
    fn u32(&mut self, off: usize, v: u32) {
        let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        self.data[off..off + 4].copy_from_slice(&b);
    }
    fn u64(&mut self, off: usize, v: u64) {
        let b = if self.big_endian { v.to_be_bytes() } else { v.to_le_bytes() };
        self.data[off..off + 8].copy_from_slice(&b);
    }
}

/// Compiles `source` into a relocatable object for `opts.target`.
pub fn build_object(
    source: &ObjectSource<'_>,
    opts: &CodegenOptions,
    want_asm: bool,
) -> Result<BuiltObject, EmitError> {
    let isa = target_isa(opts.target.as_deref(), opts.pic)?;
    let big_endian = isa.endianness() == cranelift_codegen::ir::Endianness::Big;
    let obj_err = |e: &dyn std::fmt::Display| EmitError::Object { message: e.to_string() };
    let builder =
        ObjectBuilder::new(isa, "bpfc", cranelift_module::default_libcall_names()).map_err(|e| obj_err(&e))?;
    let mut module = ObjectModule::new(builder);
    let mut ctx = module.make_context();
    let mut entries = Vec::new();
    let mut callbacks = Vec::new();
    let mut helpers = BTreeSet::new();
    let mut asm = Vec::new();
    for prog in &source.programs {
        let defined = define_program(&mut module, &mut ctx, prog, opts, want_asm)?;
        entries.push(defined.entry);
        callbacks.push(defined.callbacks);
        helpers.extend(defined.helpers_used);
        asm.extend(defined.asm);
    }

    // Strings and tables the descriptor points to.
    let mut counter = 0;
    let mut data =
        |module: &mut ObjectModule, bytes: Vec<u8>, align: u64| -> Result<cranelift_module::DataId, EmitError> {
            counter += 1;
            let id = module
                .declare_data(&format!("bpfc_data_{counter}"), Linkage::Local, false, false)
                .map_err(|e| obj_err(&e))?;
            let mut d = DataDescription::new();
            d.define(bytes.into_boxed_slice());
            d.set_align(align);
            module.define_data(id, &d).map_err(|e| obj_err(&e))?;
            Ok(id)
        };
    let cstr = |s: &str| {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    };

    // Program table.
    let prog_size = size_of::<ProgDesc>();
    let mut progs = Bytes::new(prog_size * source.programs.len(), big_endian);
    let mut prog_relocs: Vec<(usize, Reloc)> = Vec::new();
    for (i, prog) in source.programs.iter().enumerate() {
        let base = i * prog_size;
        let name = data(&mut module, cstr(prog.name), 1)?;
        let section = data(&mut module, cstr(prog.section), 1)?;
        prog_relocs.push((base + offset_of!(ProgDesc, name), Reloc::Data(name)));
        prog_relocs.push((base + offset_of!(ProgDesc, section), Reloc::Data(section)));
        progs.u32(base + offset_of!(ProgDesc, prog_type), prog.prog_type as u32);
        progs.u32(base + offset_of!(ProgDesc, insn_count), prog.code.len() as u32);
        prog_relocs.push((base + offset_of!(ProgDesc, entry), Reloc::Func(entries[i])));
        if !callbacks[i].is_empty() {
            let relocs: Vec<(usize, Reloc)> =
                callbacks[i].iter().enumerate().map(|(j, &f)| (8 * j, Reloc::Func(f))).collect();
            let table = define_table(&mut module, &format!("bpfc_callbacks_{i}"), vec![0; 8 * relocs.len()], &relocs)?;
            prog_relocs.push((base + offset_of!(ProgDesc, callbacks), Reloc::Data(table)));
            progs.u64(base + offset_of!(ProgDesc, callback_count), callbacks[i].len() as u64);
        }
    }
    let progs_id = define_table(&mut module, "bpfc_programs", progs.data, &prog_relocs)?;

    // Map table.
    let map_size = size_of::<MapDesc>();
    let mut maps = Bytes::new(map_size * source.maps.len(), big_endian);
    let mut map_relocs = Vec::new();
    for (i, m) in source.maps.iter().enumerate() {
        let base = i * map_size;
        let name = data(&mut module, cstr(&m.name), 1)?;
        map_relocs.push((base + offset_of!(MapDesc, name), Reloc::Data(name)));
        maps.u32(base + offset_of!(MapDesc, map_type), m.map_type);
        maps.u32(base + offset_of!(MapDesc, key_size), m.key_size);
        maps.u32(base + offset_of!(MapDesc, value_size), m.value_size);
        maps.u32(base + offset_of!(MapDesc, max_entries), m.max_entries);
        maps.u32(base + offset_of!(MapDesc, flags), m.flags);
        maps.u32(base + offset_of!(MapDesc, inner_map), m.inner_map.map_or(u32::MAX, |i| i));
        if let Some(init) = &m.init {
            let id = data(&mut module, init.clone(), 8)?;
            map_relocs.push((base + offset_of!(MapDesc, init), Reloc::Data(id)));
            maps.u64(base + offset_of!(MapDesc, init_len), init.len() as u64);
        }
    }
    let maps_id = define_table(&mut module, "bpfc_maps", maps.data, &map_relocs)?;

    // Helper ids.
    let mut helper_bytes = Bytes::new(4 * helpers.len(), big_endian);
    for (i, id) in helpers.iter().enumerate() {
        helper_bytes.u32(4 * i, *id);
    }
    let helpers_id = define_table(&mut module, "bpfc_helpers", helper_bytes.data, &[])?;
    let license = data(&mut module, cstr(&source.license), 1)?;

    // The descriptor itself.
    let mut desc = Bytes::new(size_of::<ObjectDesc>(), big_endian);
    desc.data[..8].copy_from_slice(&abi::OBJECT_MAGIC);
    desc.u32(offset_of!(ObjectDesc, abi_version), abi::ABI_VERSION);
    desc.u32(offset_of!(ObjectDesc, checked), u32::from(opts.lower.checked));
    desc.u64(offset_of!(ObjectDesc, prog_count), source.programs.len() as u64);
    desc.u64(offset_of!(ObjectDesc, map_count), source.maps.len() as u64);
    desc.u64(offset_of!(ObjectDesc, helper_count), helpers.len() as u64);
    let desc_relocs = [
        (offset_of!(ObjectDesc, progs), Reloc::Data(progs_id)),
        (offset_of!(ObjectDesc, maps), Reloc::Data(maps_id)),
        (offset_of!(ObjectDesc, helpers), Reloc::Data(helpers_id)),
        (offset_of!(ObjectDesc, license), Reloc::Data(license)),
    ];
    let desc_id = module.declare_data(abi::OBJECT_SYMBOL, Linkage::Export, false, false).map_err(|e| obj_err(&e))?;
    define_relocated(&mut module, desc_id, desc.data, &desc_relocs)?;

    let bytes = module.finish().emit().map_err(|e| obj_err(&e))?;
    Ok(BuiltObject { bytes, asm, insns: insn_count(&source.programs) })
}

/// A pointer-sized slot in a table that points at a function or data object.
#[derive(Clone, Copy)]
enum Reloc {
    Func(FuncId),
    Data(cranelift_module::DataId),
}

fn define_table(
    module: &mut ObjectModule,
    name: &str,
    bytes: Vec<u8>,
    relocs: &[(usize, Reloc)],
) -> Result<cranelift_module::DataId, EmitError> {
    let id = module
        .declare_data(name, Linkage::Local, false, false)
        .map_err(|e| EmitError::Object { message: e.to_string() })?;
    define_relocated(module, id, bytes, relocs)?;
    Ok(id)
}

fn define_relocated(
    module: &mut ObjectModule,
    id: cranelift_module::DataId,
    bytes: Vec<u8>,
    relocs: &[(usize, Reloc)],
) -> Result<(), EmitError> {
    let mut d = DataDescription::new();
    // An empty table still needs a distinct address.
    let bytes = if bytes.is_empty() { vec![0; 8] } else { bytes };
    d.define(bytes.into_boxed_slice());
    d.set_align(8);
    for &(off, r) in relocs {
        match r {
            Reloc::Func(f) => {
                let fref = module.declare_func_in_data(f, &mut d);
                d.write_function_addr(off as u32, fref);
            }
            Reloc::Data(data) => {
                let gv = module.declare_data_in_data(data, &mut d);
                d.write_data_addr(off as u32, gv, 0);
            }
        }
    }
    module.define_data(id, &d).map_err(|e| EmitError::Object { message: e.to_string() })
}

/// The C compiler driver used to link objects for `target` (`cc` for the host, Debian's cross gcc
/// otherwise).
pub fn linker_for(target: Option<&str>) -> String {
    match target {
        None => "cc".to_string(),
        Some(t) => {
            let arch = t.split('-').next().unwrap_or(t);
            let arch = if arch == "riscv64gc" { "riscv64" } else { arch };
            if Some(arch) == std::env::consts::ARCH.into() { "cc".to_string() } else { format!("{arch}-linux-gnu-gcc") }
        }
    }
}

/// Links a relocatable object into a shared library with the system C compiler.
pub fn link_shared(object: &Path, output: &Path, target: Option<&str>) -> Result<(), EmitError> {
    let linker = linker_for(target);
    let result = Command::new(&linker).arg("-shared").arg("-o").arg(output).arg(object).output();
    let err =
        |message: String| EmitError::Link { output: output.display().to_string(), linker: linker.clone(), message };
    match result {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(err(String::from_utf8_lossy(&o.stderr).into_owned())),
        Err(e) => Err(err(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfc_runtime::isa::{assemble, decode};

    /// Objects build for every Cranelift target bpfc supports and carry the descriptor and entry symbols.
    #[test]
    fn builds_for_every_target() {
        let code = decode(&assemble("mov %r0, 1\ncall local f\nexit\nf:\nldxdw %r0, [%r1]\nexit").unwrap()).unwrap();
        let programs = vec![ProgramSource { name: "p", section: "", prog_type: ProgType::Unspec, code: &code }];
        let source = ObjectSource { programs, maps: vec![], license: "GPL".into() };
        for target in [
            None,
            Some("aarch64-unknown-linux-gnu"),
            Some("riscv64gc-unknown-linux-gnu"),
            Some("s390x-unknown-linux-gnu"),
        ] {
            let opts =
                CodegenOptions { target: target.map(str::to_string), verify_ir: true, pic: true, ..Default::default() };
            let built = build_object(&source, &opts, true).unwrap_or_else(|e| panic!("{target:?}: {e}"));
            let file = goblin::elf::Elf::parse(&built.bytes).unwrap();
            let names: Vec<&str> = file.syms.iter().filter_map(|s| file.strtab.get_at(s.st_name)).collect();
            assert!(names.contains(&"bpfc_object"), "{target:?}: {names:?}");
            assert!(names.contains(&"bpfc_prog_p"), "{target:?}: {names:?}");
            let undefined: Vec<&str> = file
                .syms
                .iter()
                .filter(|s| s.st_shndx == 0 && s.st_name != 0)
                .filter_map(|s| file.strtab.get_at(s.st_name))
                .collect();
            assert!(undefined.is_empty(), "{target:?}: undefined symbols {undefined:?}");
            assert!(!built.asm.is_empty());
        }
    }

    #[test]
    fn rejects_unknown_and_32_bit_targets() {
        assert!(matches!(target_isa(Some("nonsense-target"), false), Err(EmitError::Target { .. })));
        assert!(matches!(target_isa(Some("i686-unknown-linux-gnu"), false), Err(EmitError::Target { .. })));
    }
}
