//! Unit tests of every wrapper against this machine's kernel. They need bpf() (root); if it is missing
//! they fail with the probe's reason rather than pass.

use super::*;
use crate::isa::{self, AluOp, Imm64, Insn, Located, Operand, Reg, Size, Width};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

fn require_kernel() {
    if let Err(why) = kernel_bpf_available() {
        panic!("kernel bpf() is not usable here: {why}");
    }
}

fn code(insns: &[Insn]) -> Vec<u8> {
    let mut pc = 0;
    let located: Vec<Located> = insns
        .iter()
        .map(|&insn| {
            let l = Located { pc, insn };
            pc += insn.slots();
            l
        })
        .collect();
    isa::encode(&located)
}

fn mov(dst: Reg, imm: i32) -> Insn {
    Insn::Alu { op: AluOp::Mov, width: Width::W64, dst, src: Operand::Imm(imm) }
}

fn syscall_prog(insns: &[Insn]) -> Result<OwnedFd, LoadError> {
    prog_load(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SYSCALL,
        insns: &code(insns),
        license: "GPL",
        flags: BPF_F_SLEEPABLE,
        prog_name: "bpfc_test",
        ..ProgLoad::default()
    })
}

fn hash(key_size: u32, value_size: u32, max_entries: u32) -> MapFd {
    map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_HASH,
        key_size,
        value_size,
        max_entries,
        name: "bpfc_hash",
        ..MapCreate::default()
    })
    .expect("create hash map")
}

#[test]
fn errno_names_and_display() {
    assert_eq!(Errno::ENOENT.name(), "ENOENT");
    assert_eq!(Errno(524).name(), "ENOTSUPP");
    assert_eq!(Errno(9999).name(), "E?");
    assert_eq!(Errno::E2BIG.to_string(), "E2BIG (7): Argument list too long");
    let e = SysError::Kernel { cmd: Cmd::MapUpdateElem, errno: Errno::EEXIST };
    assert_eq!(e.to_string(), "bpf(BPF_MAP_UPDATE_ELEM): EEXIST (17): File exists");
}

#[test]
fn cpu_list_parsing() {
    assert_eq!(parse_cpu_list("0"), Some(1));
    assert_eq!(parse_cpu_list("0-3"), Some(4));
    assert_eq!(parse_cpu_list("0-1,4,6-7"), Some(8));
    assert_eq!(parse_cpu_list("3-1"), None);
    assert_eq!(parse_cpu_list("x"), None);
    assert!(possible_cpus().unwrap() >= 1);
}

#[test]
fn object_names_are_checked() {
    assert!(obj_name(Cmd::MapCreate, "ok_name.1").is_ok());
    assert!(matches!(obj_name(Cmd::MapCreate, "sixteen_bytes_xx"), Err(SysError::Invalid { .. })));
    assert!(matches!(obj_name(Cmd::MapCreate, "bad-name"), Err(SysError::Invalid { .. })));
}

#[test]
fn probe_succeeds() {
    require_kernel();
}

#[test]
fn load_and_run_syscall_program() {
    require_kernel();
    let fd = syscall_prog(&[mov(Reg::R0, -5), Insn::Exit]).unwrap();
    let run = prog_test_run(fd.as_fd(), &TestRun::default()).unwrap();
    assert_eq!(run.retval, -5i32 as u32);
    assert!(run.data_out.is_empty() && run.ctx_out.is_empty());
}

#[test]
fn rejection_carries_errno_and_log() {
    require_kernel();
    // r0 is never written: the verifier refuses to read it at exit.
    let err = syscall_prog(&[Insn::Exit]).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EACCES), "{err}");
    assert!(err.log().contains("R0 !read_ok"), "log: {}", err.log());
    assert!(err.reason().contains("R0 !read_ok"), "reason: {}", err.reason());
    assert!(err.to_string().contains("EACCES"), "{err}");
}

#[test]
fn bad_arguments_are_refused_before_the_call() {
    let err = prog_load(&ProgLoad { insns: &[0u8; 12], license: "GPL", ..ProgLoad::default() }).unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err}");
    let err = prog_load(&ProgLoad { insns: &[0u8; 8], license: "G\0PL", ..ProgLoad::default() }).unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err}");
}

#[test]
fn log_buffer_grows_on_enospc() {
    require_kernel();
    // At log level 2 every instruction logs its register state: 6,000 movs log far more than the
    // initial 64 KiB buffer, so the load only succeeds if the wrapper retries with a bigger one.
    let mut insns: Vec<Insn> = (0..6000).map(|i| mov(Reg::new((i % 9) as u8 + 1).unwrap(), i)).collect();
    insns.push(mov(Reg::R0, 0));
    insns.push(Insn::Exit);
    let loaded = prog_load_with_log(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SYSCALL,
        insns: &code(&insns),
        license: "GPL",
        flags: BPF_F_SLEEPABLE,
        log_level: LOG_LEVEL_INSN,
        ..ProgLoad::default()
    })
    .unwrap();
    assert!(loaded.log.len() > INITIAL_LOG, "log is only {} bytes", loaded.log.len());
    assert!(loaded.log.contains("processed 6002 insns"), "{}", &loaded.log[loaded.log.len() - 300..]);
}

const INITIAL_LOG: usize = 64 * 1024;

#[test]
fn syscall_context_is_copied_back() {
    require_kernel();
    // *(u64 *)(ctx + 8) += *(u64 *)(ctx + 0); r0 = 1
    let insns = [
        Insn::Load { size: Size::DW, signed: false, dst: Reg::R2, base: Reg::R1, off: 0 },
        Insn::Load { size: Size::DW, signed: false, dst: Reg::R3, base: Reg::R1, off: 8 },
        Insn::Alu { op: AluOp::Add, width: Width::W64, dst: Reg::R3, src: Operand::Reg(Reg::R2) },
        Insn::Store { size: Size::DW, base: Reg::R1, off: 8, src: Operand::Reg(Reg::R3) },
        mov(Reg::R0, 1),
        Insn::Exit,
    ];
    let fd = syscall_prog(&insns).unwrap();
    let mut ctx = [0u8; 16];
    ctx[..8].copy_from_slice(&40u64.to_le_bytes());
    ctx[8..].copy_from_slice(&2u64.to_le_bytes());
    let run = prog_test_run(fd.as_fd(), &TestRun { ctx_in: &ctx, ..TestRun::default() }).unwrap();
    assert_eq!(run.retval, 1);
    assert_eq!(u64::from_le_bytes(run.ctx_in_after[8..].try_into().unwrap()), 42);
    // Syscall programs take no ctx_out and no repeat.
    let err = prog_test_run(fd.as_fd(), &TestRun { ctx_in: &ctx, repeat: 2, ..TestRun::default() }).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL));
}

#[test]
fn socket_filter_data_in_and_out() {
    require_kernel();
    // r0 = skb->len (offset 0 of struct __sk_buff); test_run strips the 14-byte Ethernet header.
    let insns = [Insn::Load { size: Size::W, signed: false, dst: Reg::R0, base: Reg::R1, off: 0 }, Insn::Exit];
    let fd = prog_load(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SOCKET_FILTER,
        insns: &code(&insns),
        license: "GPL",
        ..ProgLoad::default()
    })
    .unwrap();
    let packet: Vec<u8> = (0..64u8).collect();
    let run =
        prog_test_run(fd.as_fd(), &TestRun { data_in: &packet, data_out_size: 256, repeat: 3, ..TestRun::default() })
            .unwrap();
    assert_eq!(run.retval, 64 - 14);
    // The packet comes back whole; a socket filter's skb has no MAC header, so those 14 bytes are zero.
    assert_eq!(run.data_out.len(), packet.len());
    assert_eq!(run.data_out[14..], packet[14..]);
}

#[test]
fn prog_info_and_reopen_by_id() {
    require_kernel();
    let map = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        name: "bpfc_val",
        ..MapCreate::default()
    })
    .unwrap();
    map_update(&map, &0u32.to_le_bytes(), &0x1234_5678_9abc_def0u64.to_le_bytes(), BPF_ANY).unwrap();
    // r1 = &value; r0 = *(u64 *)r1 — reads the map value through a BPF_PSEUDO_MAP_VALUE load.
    let fd_num = map.fd().as_raw_fd();
    let insns = [
        Insn::LdImm64 { dst: Reg::R1, imm: Imm64::MapValue { fd: fd_num, off: 0 } },
        Insn::Load { size: Size::DW, signed: false, dst: Reg::R0, base: Reg::R1, off: 0 },
        Insn::Exit,
    ];
    let fd = syscall_prog(&insns).unwrap();
    let run = prog_test_run(fd.as_fd(), &TestRun::default()).unwrap();
    assert_eq!(run.retval, 0x9abc_def0);

    let info = prog_info(fd.as_fd()).unwrap();
    assert_eq!(info.prog_type, BPF_PROG_TYPE_SYSCALL);
    assert_eq!(info.name, "bpfc_test");
    assert!(info.id > 0);
    assert!(info.gpl_compatible);
    assert_eq!(info.map_ids, vec![map.info().id]);
    assert!(info.jited_len > 0, "the JIT is on on this machine");
    // The translated program keeps the three instructions (4 slots); the map fd became an address.
    let xlated = isa::decode(&info.xlated_insns).unwrap();
    assert_eq!(xlated.len(), 3, "{xlated:?}");
    assert!(matches!(xlated.insns()[0].insn, Insn::LdImm64 { dst: Reg::R1, .. }));
    assert_eq!(xlated.insns()[2].insn, Insn::Exit);

    let again = prog_get_fd_by_id(info.id).unwrap();
    assert_ne!(again.as_raw_fd(), fd.as_raw_fd());
    assert_eq!(prog_info(again.as_fd()).unwrap().tag, info.tag);
    assert_eq!(prog_get_fd_by_id(u32::MAX).unwrap_err().errno(), Some(Errno::ENOENT));
}

#[test]
fn run_time_statistics() {
    require_kernel();
    let fd = syscall_prog(&[mov(Reg::R0, 0), Insn::Exit]).unwrap();
    let stats = enable_stats(BPF_STATS_RUN_TIME).unwrap();
    for _ in 0..5 {
        prog_test_run(fd.as_fd(), &TestRun::default()).unwrap();
    }
    let info = prog_info(fd.as_fd()).unwrap();
    drop(stats);
    assert!(info.run_cnt >= 5, "run_cnt {}", info.run_cnt);
}

#[test]
fn hash_map_flags_and_errors() {
    require_kernel();
    let map = hash(4, 8, 2);
    assert_eq!(map.info().map_type, BPF_MAP_TYPE_HASH);
    assert_eq!((map.key_size(), map.value_len()), (4, 8));
    let k = |n: u32| n.to_le_bytes();
    let v = |n: u64| n.to_le_bytes();
    let errno = |r: Result<(), SysError>| r.unwrap_err().errno();
    assert_eq!(map_lookup(&map, &k(1), 0).unwrap_err().errno(), Some(Errno::ENOENT));
    assert_eq!(errno(map_update(&map, &k(1), &v(10), BPF_EXIST)), Some(Errno::ENOENT));
    map_update(&map, &k(1), &v(10), BPF_NOEXIST).unwrap();
    assert_eq!(errno(map_update(&map, &k(1), &v(11), BPF_NOEXIST)), Some(Errno::EEXIST));
    map_update(&map, &k(1), &v(12), BPF_EXIST).unwrap();
    assert_eq!(map_lookup(&map, &k(1), 0).unwrap(), v(12));
    map_update(&map, &k(2), &v(20), BPF_ANY).unwrap();
    assert_eq!(errno(map_update(&map, &k(3), &v(30), BPF_ANY)), Some(Errno::E2BIG));

    let mut keys = Vec::new();
    let mut cur = None;
    loop {
        match map_get_next_key(&map, cur.as_deref()) {
            Ok(next) => {
                keys.push(u32::from_le_bytes(next[..].try_into().unwrap()));
                cur = Some(next);
            }
            Err(e) => {
                assert_eq!(e.errno(), Some(Errno::ENOENT));
                break;
            }
        }
    }
    keys.sort();
    assert_eq!(keys, vec![1, 2]);

    assert_eq!(map_lookup_and_delete(&map, &k(2)).unwrap(), v(20));
    map_delete(&map, &k(1)).unwrap();
    assert_eq!(errno(map_delete(&map, &k(1))), Some(Errno::ENOENT));
    assert_eq!(map_get_next_key(&map, None).unwrap_err().errno(), Some(Errno::ENOENT));

    // Wrong lengths never reach the kernel.
    assert!(matches!(map_lookup(&map, &[0u8; 3], 0), Err(SysError::Invalid { .. })));
    assert!(matches!(map_update(&map, &k(1), &[0u8; 4], 0), Err(SysError::Invalid { .. })));
}

#[test]
fn array_and_percpu_array() {
    require_kernel();
    let arr = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 3,
        ..MapCreate::default()
    })
    .unwrap();
    assert_eq!(map_lookup(&arr, &2u32.to_le_bytes(), 0).unwrap(), [0; 4]);
    assert_eq!(map_lookup(&arr, &3u32.to_le_bytes(), 0).unwrap_err().errno(), Some(Errno::ENOENT));
    assert_eq!(map_delete(&arr, &0u32.to_le_bytes()).unwrap_err().errno(), Some(Errno::EINVAL));
    assert_eq!(map_update(&arr, &0u32.to_le_bytes(), &[1; 4], BPF_NOEXIST).unwrap_err().errno(), Some(Errno::EEXIST));

    let cpus = possible_cpus().unwrap();
    let pc = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_PERCPU_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        ..MapCreate::default()
    })
    .unwrap();
    assert_eq!(pc.value_len(), 8 * cpus);
    let value: Vec<u8> = (0..pc.value_len()).map(|i| i as u8).collect();
    map_update(&pc, &0u32.to_le_bytes(), &value, BPF_ANY).unwrap();
    let back = map_lookup(&pc, &0u32.to_le_bytes(), 0).unwrap();
    // The kernel copies whole 8-byte slots per CPU, padding included.
    assert_eq!(back, value);
}

#[test]
fn queue_stack_and_freeze() {
    require_kernel();
    let mk = |map_type| {
        map_create(&MapCreate { map_type, key_size: 0, value_size: 2, max_entries: 2, ..MapCreate::default() }).unwrap()
    };
    let queue = mk(BPF_MAP_TYPE_QUEUE);
    let stack = mk(BPF_MAP_TYPE_STACK);
    for m in [&queue, &stack] {
        map_update(m, &[], &[1, 0], BPF_ANY).unwrap();
        map_update(m, &[], &[2, 0], BPF_ANY).unwrap();
        assert_eq!(map_update(m, &[], &[3, 0], BPF_ANY).unwrap_err().errno(), Some(Errno::E2BIG));
    }
    assert_eq!(map_lookup(&queue, &[], 0).unwrap(), [1, 0]);
    assert_eq!(map_lookup_and_delete(&queue, &[]).unwrap(), [1, 0]);
    assert_eq!(map_lookup_and_delete(&stack, &[]).unwrap(), [2, 0]);
    assert_eq!(map_lookup_and_delete(&stack, &[]).unwrap(), [1, 0]);
    assert_eq!(map_lookup_and_delete(&stack, &[]).unwrap_err().errno(), Some(Errno::ENOENT));

    map_freeze(&queue).unwrap();
    assert_eq!(map_update(&queue, &[], &[4, 0], BPF_ANY).unwrap_err().errno(), Some(Errno::EPERM));
}

#[test]
fn bloom_filter_lookup_reads_the_value() {
    require_kernel();
    let bloom = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_BLOOM_FILTER,
        key_size: 0,
        value_size: 8,
        max_entries: 100,
        ..MapCreate::default()
    })
    .unwrap();
    map_update(&bloom, &[], &7u64.to_le_bytes(), BPF_ANY).unwrap();
    let mut present = 7u64.to_le_bytes();
    map_lookup_into(&bloom, &[], &mut present, 0).unwrap();
}

#[test]
fn map_in_map_info_and_reopen() {
    require_kernel();
    let inner = hash(4, 4, 1);
    let outer = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY_OF_MAPS,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        name: "bpfc_outer",
        inner_map_fd: Some(inner.fd()),
        ..MapCreate::default()
    })
    .unwrap();
    let fd_bytes = (inner.fd().as_raw_fd() as u32).to_le_bytes();
    map_update(&outer, &0u32.to_le_bytes(), &fd_bytes, BPF_ANY).unwrap();
    // User space writes an fd and reads back the inner map's id.
    assert_eq!(map_lookup(&outer, &0u32.to_le_bytes(), 0).unwrap(), inner.info().id.to_le_bytes());

    let info = map_info(outer.fd()).unwrap();
    assert_eq!(info.name, "bpfc_outer");
    assert_eq!((info.key_size, info.value_size, info.max_entries), (4, 4, 1));
    let again = map_get_fd_by_id(info.id).unwrap();
    assert_eq!(again.info(), outer.info());
    assert_eq!(map_get_fd_by_id(u32::MAX).unwrap_err().errno(), Some(Errno::ENOENT));
}

/// Minimal BTF: [1] `int` (4 bytes, signed), [2] `int (void)` prototype, [3] global function `main`.
fn tiny_btf() -> Vec<u8> {
    let strings = b"\0int\0main\0";
    let mut types = Vec::new();
    let mut word = |w: u32| types.extend_from_slice(&w.to_le_bytes());
    // INT: name "int", kind 1, size 4, encoding SIGNED, 32 bits.
    word(1);
    word(1 << 24);
    word(4);
    word((1 << 24) | 32);
    // FUNC_PROTO: kind 13, no parameters, returns type 1.
    word(0);
    word(13 << 24);
    word(1);
    // FUNC: name "main", kind 12, linkage global (1), type 2.
    word(5);
    word((12 << 24) | 1);
    word(2);
    let mut btf = Vec::new();
    btf.extend_from_slice(&0xeb9fu16.to_le_bytes());
    btf.extend_from_slice(&[1, 0]);
    for w in [24u32, 0, types.len() as u32, types.len() as u32, strings.len() as u32] {
        btf.extend_from_slice(&w.to_le_bytes());
    }
    btf.extend_from_slice(&types);
    btf.extend_from_slice(strings);
    btf
}

#[test]
fn btf_load_and_typed_map() {
    require_kernel();
    let btf = btf_load(&tiny_btf(), 0).unwrap();
    let map = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        btf_fd: Some(btf.fd.as_fd()),
        btf_key_type_id: 1,
        btf_value_type_id: 1,
        ..MapCreate::default()
    })
    .unwrap();
    let info = map_info(map.fd()).unwrap();
    assert!(info.btf_id > 0);
    assert_eq!((info.btf_key_type_id, info.btf_value_type_id), (1, 1));

    let mut bad = tiny_btf();
    bad[0] = 0;
    let err = btf_load(&bad, 0).unwrap_err();
    assert_eq!(err.errno(), Some(Errno::EINVAL), "{err}");
    assert!(err.to_string().starts_with("bpf(BPF_BTF_LOAD): EINVAL"), "{err}");
}

#[test]
fn program_with_func_info() {
    require_kernel();
    let btf = btf_load(&tiny_btf(), 0).unwrap();
    let func_info: Vec<u8> = [0u32, 3].iter().flat_map(|w| w.to_le_bytes()).collect();
    let fd = prog_load(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SYSCALL,
        insns: &code(&[mov(Reg::R0, 0), Insn::Exit]),
        license: "GPL",
        flags: BPF_F_SLEEPABLE,
        prog_btf_fd: Some(btf.fd.as_fd()),
        func_info: &func_info,
        func_info_rec_size: 8,
        ..ProgLoad::default()
    })
    .unwrap();
    assert!(prog_info(fd.as_fd()).unwrap().btf_id > 0);
    let err = prog_load(&ProgLoad { func_info: &func_info[..6], func_info_rec_size: 8, ..ProgLoad::default() });
    assert!(matches!(err, Err(LoadError::Invalid { .. })));
}

#[test]
fn map_by_index_through_fd_array() {
    require_kernel();
    let map = map_create(&MapCreate {
        map_type: BPF_MAP_TYPE_ARRAY,
        key_size: 4,
        value_size: 8,
        max_entries: 1,
        ..MapCreate::default()
    })
    .unwrap();
    map_update(&map, &0u32.to_le_bytes(), &77u64.to_le_bytes(), BPF_ANY).unwrap();
    let insns = code(&[
        Insn::LdImm64 { dst: Reg::R1, imm: Imm64::MapIdxValue { idx: 1, off: 0 } },
        Insn::Load { size: Size::DW, signed: false, dst: Reg::R0, base: Reg::R1, off: 0 },
        Insn::Exit,
    ]);
    let fds = [-1, map.fd().as_raw_fd()];
    let load = |fd_array| {
        prog_load(&ProgLoad {
            prog_type: BPF_PROG_TYPE_SYSCALL,
            insns: &insns,
            license: "GPL",
            flags: BPF_F_SLEEPABLE,
            fd_array,
            ..ProgLoad::default()
        })
    };
    let fd = load(&fds).unwrap();
    assert_eq!(prog_test_run(fd.as_fd(), &TestRun::default()).unwrap().retval, 77);
    // Index 1 is outside a one-element fd_array: refused before the kernel reads past it.
    assert!(matches!(load(&fds[..1]), Err(LoadError::Invalid { .. })));
}

/// A syscall program that writes records of 1..=20 bytes (byte i of record n = n + i) and one discarded
/// reservation into a kernel ring buffer, run often enough to wrap the ring several times; the consumer
/// must return exactly the committed records, in order.
#[test]
fn kernel_ringbuf_consumer_reads_records_in_order_across_wraps() {
    require_kernel();
    let rb = map_create(&MapCreate {
        map_type: crate::maps::MapType::RingBuf as u32,
        max_entries: 4096,
        name: "bpfc_rb",
        ..MapCreate::default()
    })
    .expect("create ringbuf");
    // ctx: u64 record length, u64 first byte. Fills 32 stack bytes with first+i, outputs `len` of them,
    // then reserves 8 bytes and discards them.
    let mut text = String::from("mov %r6, %r1\nldxdw %r7, [%r6]\nldxdw %r8, [%r6+8]\n");
    for i in 0..32 {
        text += &format!("mov %r1, %r8\nadd %r1, {i}\nstxb [%r10-{}], %r1\n", 32 - i);
    }
    text += "lddw %r1, 0x5242\nmov %r2, %r10\nadd %r2, -32\nmov %r3, %r7\nand %r3, 31\nmov %r4, 0\ncall 130\n";
    text += "lddw %r1, 0x5242\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +2\nmov %r1, %r0\nmov %r2, 0\n";
    text += "jeq %r0, 0, +1\ncall 133\nmov %r0, 0\nexit";
    let decoded = isa::decode(&isa::assemble(&text).expect("assemble")).expect("decode");
    let insns: Vec<Located> = decoded
        .insns()
        .iter()
        .map(|l| match l.insn {
            Insn::LdImm64 { dst, imm: Imm64::Value(0x5242) } => {
                Located { pc: l.pc, insn: Insn::LdImm64 { dst, imm: Imm64::MapFd(rb.as_fd().as_raw_fd()) } }
            }
            _ => *l,
        })
        .collect();
    let prog = prog_load(&ProgLoad {
        prog_type: BPF_PROG_TYPE_SYSCALL,
        insns: &isa::encode(&insns),
        license: "GPL",
        flags: BPF_F_SLEEPABLE,
        prog_name: "bpfc_rb",
        ..ProgLoad::default()
    })
    .unwrap_or_else(|e| panic!("load: {}", e.log()));
    let mut ring = KernelRingBuf::open(&rb).expect("mmap ringbuf");
    let mut want = Vec::new();
    let mut got = Vec::new();
    for n in 0..600u64 {
        let len = 1 + n % 20;
        let mut ctx = len.to_le_bytes().to_vec();
        ctx.extend_from_slice(&n.to_le_bytes());
        let run = prog_test_run(prog.as_fd(), &TestRun { ctx_in: &ctx, ..TestRun::default() }).expect("test run");
        assert_eq!(run.retval, 0);
        want.push((0..len).map(|i| (n + i) as u8).collect::<Vec<u8>>());
        if n % 7 == 6 {
            got.extend(ring.drain());
        }
    }
    got.extend(ring.drain());
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);
    assert!(ring.drain().is_empty());
}
