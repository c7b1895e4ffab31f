// SPDX-License-Identifier: GPL-2.0
/* bpfc ELF/CO-RE edge cases, checked against libbpf and the kernel by testsuite/tests/elf_oracle.rs:
 *  - CO-RE relocations whose target does not exist: a field (poisoned load, guarded so it is dead code),
 *    a type and an enumerator (exists → 0), an enum value of a missing enumerator (poisoned lddw);
 *  - flavoured local types (`___v1`, `___v2`) resolving to the same kernel struct;
 *  - bitfield reads (signed), array element offsets, nested anonymous members;
 *  - two programs calling shared `.text` functions in different orders (per-program layout);
 *  - a function pointer callback (bpf_loop), a custom `.data.counters` section, `.rodata` format strings
 *    and a `.rodata.str1.1` literal.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct task_struct___v1 {
	int pid;
	int no_such_field_in_any_kernel;
} __attribute__((preserve_access_index));

struct task_struct___v2 {
	int tgid;
} __attribute__((preserve_access_index));

struct bpfc_type_that_does_not_exist {
	int x;
} __attribute__((preserve_access_index));

enum bpfc_missing_enum___x { BPFC_NO_SUCH_VALUE = 7 };

u64 counters[4] SEC(".data.counters");
const volatile u32 scale = 3;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8);
	__type(key, u32);
	__type(value, u64);
} results SEC(".maps");

static __noinline u64 mix(u64 a, u64 b)
{
	return a * scale + b;
}

static __noinline u64 fold(u64 a)
{
	return mix(a, a >> 3) ^ 0x5a;
}

static long step(u32 i, void *ctx)
{
	counters[i & 3] += i;
	return 0;
}

static void put(u32 k, u64 v)
{
	bpf_map_update_elem(&results, &k, &v, BPF_ANY);
}

SEC("tp/syscalls/sys_enter_getpid")
int edge_a(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct task_struct___v1 *t1 = (void *)t;
	u64 v = 0;

	if (bpf_core_field_exists(t1->no_such_field_in_any_kernel))
		v = BPF_CORE_READ(t1, no_such_field_in_any_kernel);
	put(0, v);
	put(1, BPF_CORE_READ(t1, pid));
	put(2, bpf_core_type_exists(struct bpfc_type_that_does_not_exist));
	put(3, bpf_core_enum_value_exists(enum bpfc_missing_enum___x, BPFC_NO_SUCH_VALUE));
	if (bpf_core_enum_value_exists(enum bpfc_missing_enum___x, BPFC_NO_SUCH_VALUE))
		put(4, bpf_core_enum_value(enum bpfc_missing_enum___x, BPFC_NO_SUCH_VALUE));
	put(5, mix(fold(v), 1));
	bpf_loop(4, step, NULL, 0);
	bpf_printk("edge_a %llu", v);
	return 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int edge_b(void *ctx)
{
	struct task_struct *t = (void *)bpf_get_current_task();
	struct task_struct___v2 *t2 = (void *)t;

	char buf[16];

	/* A string literal used as data lands in `.rodata.str1.1`, which libbpf also maps. */
	bpf_probe_read_kernel_str(buf, sizeof(buf), (bpf_get_prandom_u32() & 1) ? "bpfc-literal" : "other-literal");
	put(6, fold(mix(BPF_CORE_READ(t2, tgid), 2)) + buf[3]);
	put(7, BPF_CORE_READ_BITFIELD_PROBED(t, in_iowait) + BPF_CORE_READ(t, comm[3]) +
		       __builtin_preserve_field_info(t->se.vruntime, BPF_FIELD_BYTE_OFFSET) +
		       __builtin_preserve_field_info(t->prio, BPF_FIELD_SIGNED));
	return 0;
}
