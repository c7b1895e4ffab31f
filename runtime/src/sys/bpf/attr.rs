//! `#[repr(C)]` mirrors of the members of `union bpf_attr` and of the info structs that bpfc passes to
//! the kernel, laid out exactly as `linux/bpf.h` (UAPI) declares them.
//!
//! Hazards this file guards against:
//! - The kernel copies `size` bytes of the attr and then requires every byte after the last field *it*
//!   knows for the command to be zero (`CHECK_ATTR`). Rust leaves padding bytes undefined, so every
//!   struct here spells its padding out as explicit `_pad` fields and is built from `Default` (all
//!   zero); no struct has implicit padding (the `offset_of!` tests below pin every field and the size).
//! - `__aligned_u64` pointer fields are plain `u64` holding a user address; 0 means NULL.
//! - Each command gets its own struct and we pass `size_of` that struct: the kernel zero-fills the rest
//!   of its (larger) union, which is what it expects for fields we do not use.
//!
//! The offsets in the tests were checked against `offsetof()` on this machine's `/usr/include/linux/bpf.h`
//! (libbpf-dev 1.1.2); `log_true_size` is newer than that header (Linux 6.4 UAPI) and sits in what that
//! header's union shows as tail padding.

/// `BPF_MAP_CREATE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; 16],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
}

/// `BPF_MAP_{LOOKUP,UPDATE,DELETE,LOOKUP_AND_DELETE}_ELEM`, `BPF_MAP_GET_NEXT_KEY`, `BPF_MAP_FREEZE`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MapElemAttr {
    pub map_fd: u32,
    pub _pad: u32,
    pub key: u64,
    /// `value`, or `next_key` for `BPF_MAP_GET_NEXT_KEY`.
    pub value: u64,
    pub flags: u64,
}

/// `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; 16],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` / `attach_btf_obj_fd` (a union of two `__u32`).
    pub attach_btf_obj_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    /// Output (Linux ≥ 6.4): the log size the verifier needed, including the NUL.
    pub log_true_size: u32,
}

/// `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad: u32,
}

/// `BPF_{PROG,MAP}_GET_FD_BY_ID`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GetIdAttr {
    /// `start_id` / `prog_id` / `map_id` / `btf_id` / `link_id`.
    pub id: u32,
    pub next_id: u32,
    pub open_flags: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct InfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

/// `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    /// Output (Linux ≥ 6.4): the log size the kernel needed, including the NUL.
    pub btf_log_true_size: u32,
}

/// `BPF_ENABLE_STATS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct EnableStatsAttr {
    pub stats_type: u32,
}

/// `struct bpf_prog_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; 16],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`; the other 31 bits are padding.
    pub gpl_compatible: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad: u32,
}

/// `struct bpf_map_info`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RawMapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; 16],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub _pad: u32,
    pub map_extra: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    // Expected values: offsetof()/sizeof() from /usr/include/linux/bpf.h compiled with gcc on x86_64.
    #[test]
    fn map_create_layout() {
        assert_eq!(offset_of!(MapCreateAttr, map_type), 0);
        assert_eq!(offset_of!(MapCreateAttr, key_size), 4);
        assert_eq!(offset_of!(MapCreateAttr, value_size), 8);
        assert_eq!(offset_of!(MapCreateAttr, max_entries), 12);
        assert_eq!(offset_of!(MapCreateAttr, map_flags), 16);
        assert_eq!(offset_of!(MapCreateAttr, inner_map_fd), 20);
        assert_eq!(offset_of!(MapCreateAttr, numa_node), 24);
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, map_ifindex), 44);
        assert_eq!(offset_of!(MapCreateAttr, btf_fd), 48);
        assert_eq!(offset_of!(MapCreateAttr, btf_key_type_id), 52);
        assert_eq!(offset_of!(MapCreateAttr, btf_value_type_id), 56);
        assert_eq!(offset_of!(MapCreateAttr, btf_vmlinux_value_type_id), 60);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(size_of::<MapCreateAttr>(), 72);
    }

    #[test]
    fn map_elem_layout() {
        assert_eq!(offset_of!(MapElemAttr, map_fd), 0);
        assert_eq!(offset_of!(MapElemAttr, key), 8);
        assert_eq!(offset_of!(MapElemAttr, value), 16);
        assert_eq!(offset_of!(MapElemAttr, flags), 24);
        assert_eq!(size_of::<MapElemAttr>(), 32);
    }

    #[test]
    fn prog_load_layout() {
        assert_eq!(offset_of!(ProgLoadAttr, prog_type), 0);
        assert_eq!(offset_of!(ProgLoadAttr, insn_cnt), 4);
        assert_eq!(offset_of!(ProgLoadAttr, insns), 8);
        assert_eq!(offset_of!(ProgLoadAttr, license), 16);
        assert_eq!(offset_of!(ProgLoadAttr, log_level), 24);
        assert_eq!(offset_of!(ProgLoadAttr, log_size), 28);
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, kern_version), 40);
        assert_eq!(offset_of!(ProgLoadAttr, prog_flags), 44);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, prog_ifindex), 64);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(offset_of!(ProgLoadAttr, prog_btf_fd), 72);
        assert_eq!(offset_of!(ProgLoadAttr, func_info_rec_size), 76);
        assert_eq!(offset_of!(ProgLoadAttr, func_info), 80);
        assert_eq!(offset_of!(ProgLoadAttr, func_info_cnt), 88);
        assert_eq!(offset_of!(ProgLoadAttr, line_info_rec_size), 92);
        assert_eq!(offset_of!(ProgLoadAttr, line_info), 96);
        assert_eq!(offset_of!(ProgLoadAttr, line_info_cnt), 104);
        assert_eq!(offset_of!(ProgLoadAttr, attach_btf_id), 108);
        assert_eq!(offset_of!(ProgLoadAttr, attach_btf_obj_fd), 112);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_cnt), 116);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array), 120);
        assert_eq!(offset_of!(ProgLoadAttr, core_relos), 128);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_rec_size), 136);
        assert_eq!(offset_of!(ProgLoadAttr, log_true_size), 140);
        assert_eq!(size_of::<ProgLoadAttr>(), 144);
    }

    #[test]
    fn test_run_layout() {
        assert_eq!(offset_of!(TestRunAttr, prog_fd), 0);
        assert_eq!(offset_of!(TestRunAttr, retval), 4);
        assert_eq!(offset_of!(TestRunAttr, data_size_in), 8);
        assert_eq!(offset_of!(TestRunAttr, data_size_out), 12);
        assert_eq!(offset_of!(TestRunAttr, data_in), 16);
        assert_eq!(offset_of!(TestRunAttr, data_out), 24);
        assert_eq!(offset_of!(TestRunAttr, repeat), 32);
        assert_eq!(offset_of!(TestRunAttr, duration), 36);
        assert_eq!(offset_of!(TestRunAttr, ctx_size_in), 40);
        assert_eq!(offset_of!(TestRunAttr, ctx_size_out), 44);
        assert_eq!(offset_of!(TestRunAttr, ctx_in), 48);
        assert_eq!(offset_of!(TestRunAttr, ctx_out), 56);
        assert_eq!(offset_of!(TestRunAttr, flags), 64);
        assert_eq!(offset_of!(TestRunAttr, cpu), 68);
        assert_eq!(offset_of!(TestRunAttr, batch_size), 72);
        assert_eq!(size_of::<TestRunAttr>(), 80);
    }

    #[test]
    fn id_info_stats_layout() {
        assert_eq!(offset_of!(GetIdAttr, id), 0);
        assert_eq!(offset_of!(GetIdAttr, next_id), 4);
        assert_eq!(offset_of!(GetIdAttr, open_flags), 8);
        assert_eq!(size_of::<GetIdAttr>(), 12);
        assert_eq!(offset_of!(InfoAttr, bpf_fd), 0);
        assert_eq!(offset_of!(InfoAttr, info_len), 4);
        assert_eq!(offset_of!(InfoAttr, info), 8);
        assert_eq!(size_of::<InfoAttr>(), 16);
        assert_eq!(size_of::<EnableStatsAttr>(), 4);
        assert_eq!(offset_of!(BtfLoadAttr, btf), 0);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_buf), 8);
        assert_eq!(offset_of!(BtfLoadAttr, btf_size), 16);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_size), 20);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_level), 24);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_true_size), 28);
        assert_eq!(size_of::<BtfLoadAttr>(), 32);
    }

    #[test]
    fn prog_info_layout() {
        assert_eq!(offset_of!(RawProgInfo, prog_type), 0);
        assert_eq!(offset_of!(RawProgInfo, id), 4);
        assert_eq!(offset_of!(RawProgInfo, tag), 8);
        assert_eq!(offset_of!(RawProgInfo, jited_prog_len), 16);
        assert_eq!(offset_of!(RawProgInfo, xlated_prog_len), 20);
        assert_eq!(offset_of!(RawProgInfo, jited_prog_insns), 24);
        assert_eq!(offset_of!(RawProgInfo, xlated_prog_insns), 32);
        assert_eq!(offset_of!(RawProgInfo, load_time), 40);
        assert_eq!(offset_of!(RawProgInfo, created_by_uid), 48);
        assert_eq!(offset_of!(RawProgInfo, nr_map_ids), 52);
        assert_eq!(offset_of!(RawProgInfo, map_ids), 56);
        assert_eq!(offset_of!(RawProgInfo, name), 64);
        assert_eq!(offset_of!(RawProgInfo, ifindex), 80);
        assert_eq!(offset_of!(RawProgInfo, gpl_compatible), 84);
        assert_eq!(offset_of!(RawProgInfo, netns_dev), 88);
        assert_eq!(offset_of!(RawProgInfo, netns_ino), 96);
        assert_eq!(offset_of!(RawProgInfo, nr_jited_ksyms), 104);
        assert_eq!(offset_of!(RawProgInfo, nr_jited_func_lens), 108);
        assert_eq!(offset_of!(RawProgInfo, jited_ksyms), 112);
        assert_eq!(offset_of!(RawProgInfo, jited_func_lens), 120);
        assert_eq!(offset_of!(RawProgInfo, btf_id), 128);
        assert_eq!(offset_of!(RawProgInfo, func_info_rec_size), 132);
        assert_eq!(offset_of!(RawProgInfo, func_info), 136);
        assert_eq!(offset_of!(RawProgInfo, nr_func_info), 144);
        assert_eq!(offset_of!(RawProgInfo, nr_line_info), 148);
        assert_eq!(offset_of!(RawProgInfo, line_info), 152);
        assert_eq!(offset_of!(RawProgInfo, jited_line_info), 160);
        assert_eq!(offset_of!(RawProgInfo, nr_jited_line_info), 168);
        assert_eq!(offset_of!(RawProgInfo, line_info_rec_size), 172);
        assert_eq!(offset_of!(RawProgInfo, jited_line_info_rec_size), 176);
        assert_eq!(offset_of!(RawProgInfo, nr_prog_tags), 180);
        assert_eq!(offset_of!(RawProgInfo, prog_tags), 184);
        assert_eq!(offset_of!(RawProgInfo, run_time_ns), 192);
        assert_eq!(offset_of!(RawProgInfo, run_cnt), 200);
        assert_eq!(offset_of!(RawProgInfo, recursion_misses), 208);
        assert_eq!(offset_of!(RawProgInfo, verified_insns), 216);
        assert_eq!(offset_of!(RawProgInfo, attach_btf_obj_id), 220);
        assert_eq!(offset_of!(RawProgInfo, attach_btf_id), 224);
        assert_eq!(size_of::<RawProgInfo>(), 232);
    }

    #[test]
    fn map_info_layout() {
        assert_eq!(offset_of!(RawMapInfo, map_type), 0);
        assert_eq!(offset_of!(RawMapInfo, id), 4);
        assert_eq!(offset_of!(RawMapInfo, key_size), 8);
        assert_eq!(offset_of!(RawMapInfo, value_size), 12);
        assert_eq!(offset_of!(RawMapInfo, max_entries), 16);
        assert_eq!(offset_of!(RawMapInfo, map_flags), 20);
        assert_eq!(offset_of!(RawMapInfo, name), 24);
        assert_eq!(offset_of!(RawMapInfo, ifindex), 40);
        assert_eq!(offset_of!(RawMapInfo, btf_vmlinux_value_type_id), 44);
        assert_eq!(offset_of!(RawMapInfo, netns_dev), 48);
        assert_eq!(offset_of!(RawMapInfo, netns_ino), 56);
        assert_eq!(offset_of!(RawMapInfo, btf_id), 64);
        assert_eq!(offset_of!(RawMapInfo, btf_key_type_id), 68);
        assert_eq!(offset_of!(RawMapInfo, btf_value_type_id), 72);
        assert_eq!(offset_of!(RawMapInfo, map_extra), 80);
        assert_eq!(size_of::<RawMapInfo>(), 88);
    }
}
