//! Unit tests of CO-RE resolution on hand-made BTF (candidates, flavours, poisoning, ambiguity, patching).

use super::*;

/// A minimal BTF writer for hand-made type graphs.
#[derive(Default)]
struct B {
    types: Vec<u32>,
    strings: Vec<u8>,
}

impl B {
    fn new() -> B {
        B { types: Vec::new(), strings: vec![0] }
    }
    fn s(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(name.as_bytes());
        self.strings.push(0);
        off
    }
    fn int(&mut self, name: &str, size: u32, signed: bool) {
        let n = self.s(name);
        self.types.extend([n, 1 << 24, size, (u32::from(signed) << 24) | (size * 8)]);
    }
    /// Members: (name, type, bit offset).
    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) {
        let n = self.s(name);
        self.types.extend([n, (4 << 24) | members.len() as u32, size]);
        for &(m, t, off) in members {
            let mn = self.s(m);
            self.types.extend([mn, t, off]);
        }
    }
    fn enm(&mut self, name: &str, values: &[(&str, i32)]) {
        let n = self.s(name);
        self.types.extend([n, (6 << 24) | values.len() as u32, 4]);
        for &(v, x) in values {
            let vn = self.s(v);
            self.types.extend([vn, x as u32]);
        }
    }
    fn build(&self) -> Btf {
        let mut out = Vec::new();
        let tlen = (self.types.len() * 4) as u32;
        for w in [0x0001_eb9fu32, 24, 0, tlen, tlen, self.strings.len() as u32] {
            out.extend(w.to_le_bytes());
        }
        // The first word packs magic (u16), version 1, flags 0.
        out[0..4].copy_from_slice(&[0x9f, 0xeb, 1, 0]);
        for w in &self.types {
            out.extend(w.to_le_bytes());
        }
        out.extend(&self.strings);
        Btf::parse(&out, "test").expect("hand-made BTF parses")
    }
}

fn rec(btf: &Btf, type_id: u32, access: &str, kind: CoreKind) -> CoreReloRec {
    let off = (0..btf.strings_len() as u32).find(|&o| btf.try_str(o) == Some(access)).expect("access string present");
    CoreReloRec { insn_off: 0, type_id, access_str_off: off, kind: kind as u32 }
}

/// Local: [1] int, [2] struct s { int a; int b; }, [3] enum e { A = 0, B = 1 }.
fn local(name: &str) -> Btf {
    let mut b = B::new();
    b.int("int", 4, true);
    b.strukt(name, 8, &[("a", 1, 0), ("b", 1, 32)]);
    b.enm("e", &[("A", 0), ("B", 1)]);
    b.s("0:1");
    b.s("0");
    b.s("1");
    b.build()
}

#[test]
fn field_offset_follows_the_target_layout_and_flavours() {
    let l = local("s___old");
    let mut t = B::new();
    t.int("int", 4, true);
    t.strukt("s", 16, &[("x", 1, 0), ("pad", 1, 32), ("b", 1, 64)]);
    let t = t.build();
    let r = resolve(&l, &CoreTarget::new(&t), &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)).unwrap();
    assert_eq!((r.orig_val, r.new_val, r.poison), (4, 8, false));
    let mut insn = [0x61u8, 0x21, 4, 0, 0, 0, 0, 0]; // w1 = *(u32 *)(r2 + 4)
    patch_insn(&mut insn, &r, &l, &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)).unwrap();
    assert_eq!(i16::from_le_bytes([insn[2], insn[3]]), 8);
    let mut wrong = [0x61u8, 0x21, 6, 0, 0, 0, 0, 0];
    let e = patch_insn(&mut wrong, &r, &l, &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)).unwrap_err();
    assert!(e.to_string().contains("unexpected offset 6 (expected 4)"), "{e}");
}

#[test]
fn missing_field_poisons_and_exists_is_zero() {
    let l = local("s");
    let mut t = B::new();
    t.int("int", 4, true);
    t.strukt("s", 4, &[("a", 1, 0)]);
    let t = t.build();
    let tgt = CoreTarget::new(&t);
    let r = resolve(&l, &tgt, &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)).unwrap();
    assert!(r.poison);
    let mut lddw = [0x18u8, 1, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    patch_insn(&mut lddw, &r, &l, &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)).unwrap();
    assert_eq!(lddw[0], 0x85);
    assert_eq!(lddw[8], 0x85);
    assert_eq!(i32::from_le_bytes([lddw[12], lddw[13], lddw[14], lddw[15]]), POISON_HELPER_ID);
    let r = resolve(&l, &tgt, &rec(&l, 2, "0:1", CoreKind::FieldExists)).unwrap();
    assert_eq!((r.orig_val, r.new_val, r.poison), (1, 0, false));
}

#[test]
fn disagreeing_candidates_are_ambiguous() {
    let l = local("s");
    let mut t = B::new();
    t.int("int", 4, true);
    t.strukt("s", 8, &[("a", 1, 0), ("b", 1, 32)]);
    t.strukt("s___v2", 12, &[("a", 1, 0), ("b", 1, 64)]);
    let t = t.build();
    let e = resolve(&l, &CoreTarget::new(&t), &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)).unwrap_err();
    assert!(matches!(e, CoreError::Ambiguous { .. }), "{e}");
}

#[test]
fn enum_values_and_type_relocations() {
    let l = local("s");
    let mut t = B::new();
    t.int("int", 4, true);
    t.enm("e___x", &[("B", 5)]);
    t.strukt("s", 24, &[("a", 1, 0), ("b", 1, 32)]);
    let t = t.build();
    let tgt = CoreTarget::new(&t);
    let r = resolve(&l, &tgt, &rec(&l, 3, "1", CoreKind::EnumvalValue)).unwrap();
    assert_eq!((r.orig_val, r.new_val), (1, 5));
    let r = resolve(&l, &tgt, &rec(&l, 3, "0", CoreKind::EnumvalExists)).unwrap();
    assert_eq!(r.new_val, 0, "enumerator A does not exist in the target");
    let r = resolve(&l, &tgt, &rec(&l, 2, "0", CoreKind::TypeSize)).unwrap();
    assert_eq!((r.orig_val, r.new_val), (8, 24));
    let r = resolve(&l, &tgt, &rec(&l, 2, "0", CoreKind::TypeIdTarget)).unwrap();
    assert_eq!((r.new_val, r.validate), (3, false));
    let r = resolve(&l, &tgt, &rec(&l, 2, "0", CoreKind::TypeMatches)).unwrap();
    assert_eq!(r.new_val, 1);
    assert_eq!(describe(&l, &rec(&l, 2, "0:1", CoreKind::FieldByteOffset)), "struct s::b (0:1)");
}
