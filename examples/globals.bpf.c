// SPDX-License-Identifier: GPL-2.0
/*
 * globals: write(2) statistics kept entirely in global variables, computed by bpf-to-bpf calls.
 *
 * Attach: tracepoint syscalls/sys_enter_write.
 * Globals, one per ELF section (libbpf turns each section into a single-element array map named
 * "<obj>.rodata", "<obj>.data", "<obj>.bss"):
 *   .rodata (const volatile, set before load, frozen): target_pid, large_write, debug, and the format string
 *           of the bpf_printk below;
 *   .data   (initialised): class_limits, last_fd, calls_seen_marker;
 *   .bss    (zeroed): class_counts, total_bytes, write_calls, large_writes, max_write, last_count_be;
 *   .data.custom: custom_writes (starts at 1000);
 *   .rodata.str1.1: the string literal of the bpf_trace_printk below.
 * Calls: the program calls the global (non-static) function `pid_selected`, which the kernel verifies on
 * its own against its BTF signature, and the static `account_write`, which calls the static `size_class`
 * (call depth 2). With debug = 0 (the default) the printk calls are dead code that the verifier removes;
 * they are there so the object carries their strings in .rodata and .rodata.str1.1.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define NR_CLASSES 4

const volatile int target_pid = 0;
const volatile u64 large_write = 1000; /* writes of at least this many bytes count as large */
const volatile bool debug = false;

/* Size classes: class i holds writes of fewer than class_limits[i] bytes, the last class the rest. */
u64 class_limits[NR_CLASSES - 1] = { 16, 256, 4096 };
u32 last_fd = 0xffffffff;
u64 calls_seen_marker = 0x0123456789abcdefULL; /* only ever XORed with write sizes; see account_write */

u64 class_counts[NR_CLASSES];
u64 total_bytes;
u64 write_calls;
u64 large_writes;
u64 max_write;
u64 last_count_be; /* the last count, byte-swapped (a bswap64 instruction at -mcpu=v4) */

/* A custom data section: libbpf makes it a map of its own, named ".data.custom". */
u64 custom_writes SEC(".data.custom") = 1000;

__noinline bool pid_selected(u32 tgid)
{
	return !target_pid || tgid == (u32)target_pid;
}

static __noinline u32 size_class(u64 count)
{
	u32 i;

	for (i = 0; i < NR_CLASSES - 1; i++) {
		if (count < class_limits[i])
			return i;
	}
	return NR_CLASSES - 1;
}

static __noinline void account_write(u32 fd, u64 count)
{
	u32 class = size_class(count);

	if (class < NR_CLASSES)
		__sync_fetch_and_add(&class_counts[class], 1);
	__sync_fetch_and_add(&total_bytes, count);
	__sync_fetch_and_add(&write_calls, 1);
	if (count >= large_write)
		__sync_fetch_and_add(&large_writes, 1);
	if (count > max_write)
		max_write = count;
	last_fd = fd;
	last_count_be = __builtin_bswap64(count);
	calls_seen_marker ^= count;
}

SEC("tracepoint/syscalls/sys_enter_write")
int on_write(struct trace_event_raw_sys_enter *ctx)
{
	/* write(unsigned int fd, const char *buf, size_t count) */
	u32 fd = (u32)ctx->args[0];
	u64 count = ctx->args[2];

	if (!pid_selected(bpf_get_current_pid_tgid() >> 32))
		return 0;
	account_write(fd, count);
	__sync_fetch_and_add(&custom_writes, 1);
	if (debug) {
		/* bpf_printk copies its format into a static array in .rodata; a literal passed directly lands
		 * in the mergeable-string section .rodata.str1.1 instead. */
		bpf_printk("write fd=%u count=%llu", fd, count);
		bpf_trace_printk("globals: debug on\n", sizeof("globals: debug on\n"));
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
