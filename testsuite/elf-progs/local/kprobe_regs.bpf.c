// SPDX-License-Identifier: GPL-2.0
/* A BPF_KPROBE reading its first two arguments: with __TARGET_ARCH_x86, PT_REGS_PARM1/2 are CO-RE reads
 * of `struct pt_regs::di` / `::si`, resolved against whatever target BTF bpfc is given. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";
u64 seen;

SEC("kprobe/do_sys_openat2")
int BPF_KPROBE(regs_probe, int dfd, const char *filename)
{
	seen = (u64)dfd + (u64)filename;
	return 0;
}
