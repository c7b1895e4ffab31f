// SPDX-License-Identifier: GPL-2.0
/*
 * maps_zoo: one syscall counter spread over many map types, plus tail calls.
 *
 * Attach: tracepoint raw_syscalls/sys_enter (program `zoo_enter`). The two tail-call targets `tail_slot0` and
 *         `tail_slot1` have the bare section name "tracepoint": they are tracepoint programs with no attach
 *         point of their own (libbpf neither auto-attaches them nor rejects them) and run only through
 *         `jump_table`.
 * Filter: `target_pid` (const volatile, tgid; 0 = every process).
 * For each syscall of the target, zoo_enter:
 *   1. adds 1 to the per-CPU array `pc_total[0]` (the sum over CPUs is the syscall count);
 *   2. adds 1 to the per-CPU hash `pc_by_id[id]`;
 *   3. sets the LRU hash `lru_last_seq[id]` to the call's sequence number (1, 2, ... from the .bss counter
 *      `seq`) and adds 1 to the per-CPU LRU hash `lru_pc_by_id[id]`;
 *   4. looks up `by_parity[id % 2]` in an array of maps whose two slots are initialised with the inner arrays
 *      `even_ids` and `odd_ids`, and adds 1 to the inner map's element 0;
 *   5. looks up `by_range[id < 100 ? 0 : 1]` in a hash of maps initialised with `low_ids` at key 0 and
 *      `high_ids` at key 1, and adds 1 to its element 0;
 *   6. tail-calls `jump_table[id % 3]`, a prog array initialised with tail_slot0 at 0 and tail_slot1 at 1;
 *      slot 2 is empty, so for id % 3 == 2 the tail call falls through and zoo_enter adds 1 to `tail_misses`.
 *      tail_slot0/1 add 1 to `tail_hits[0]`/`tail_hits[1]` (.bss) and the syscall id to `tail_id_sum`.
 * Map sizes exceed the number of distinct keys a workload produces, so the LRU maps never evict and the
 * results are deterministic.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

const volatile int target_pid = 0;

u64 seq;
u64 tail_misses;
u64 tail_hits[2];
u64 tail_id_sum;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} pc_total SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, u64);
} pc_by_id SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, u64);
} lru_last_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 512);
	__type(key, u32);
	__type(value, u64);
} lru_pc_by_id SEC(".maps");

/* One definition shared by all inner maps; map-in-map requires compatible inner maps. */
struct counter_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
};

struct counter_map even_ids SEC(".maps");
struct counter_map odd_ids SEC(".maps");
struct counter_map low_ids SEC(".maps");
struct counter_map high_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 2);
	__type(key, u32);
	__array(values, struct counter_map);
} by_parity SEC(".maps") = {
	.values = { [0] = &even_ids, [1] = &odd_ids },
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, u32);
	__array(values, struct counter_map);
} by_range SEC(".maps") = {
	.values = { [0] = &low_ids, [1] = &high_ids },
};

SEC("tracepoint")
int tail_slot0(struct trace_event_raw_sys_enter *ctx)
{
	__sync_fetch_and_add(&tail_hits[0], 1);
	__sync_fetch_and_add(&tail_id_sum, ctx->id);
	return 0;
}

SEC("tracepoint")
int tail_slot1(struct trace_event_raw_sys_enter *ctx)
{
	__sync_fetch_and_add(&tail_hits[1], 1);
	__sync_fetch_and_add(&tail_id_sum, ctx->id);
	return 0;
}

/*
 * key_size rather than __type(key, u32): the kernel accepts no BTF key/value types on a prog array, and with
 * a BTF key type libbpf would first try, fail and retry the map creation without BTF.
 */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 3);
	__uint(key_size, sizeof(u32));
	__array(values, int(struct trace_event_raw_sys_enter *));
} jump_table SEC(".maps") = {
	.values = { [0] = (void *)&tail_slot0, [1] = (void *)&tail_slot1 },
};

static __always_inline void bump(void *map, u32 key)
{
	u64 one = 1, *v;

	v = bpf_map_lookup_elem(map, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

static __always_inline void bump_inner(void *outer, u32 outer_key)
{
	u32 zero = 0;
	void *inner;
	u64 *v;

	inner = bpf_map_lookup_elem(outer, &outer_key);
	if (!inner)
		return;
	v = bpf_map_lookup_elem(inner, &zero);
	if (v)
		__sync_fetch_and_add(v, 1);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int zoo_enter(struct trace_event_raw_sys_enter *ctx)
{
	u32 zero = 0;
	u64 *total, n;
	u32 id;

	if (target_pid && (bpf_get_current_pid_tgid() >> 32) != (u32)target_pid)
		return 0;
	if (ctx->id < 0)
		return 0;
	id = ctx->id;

	total = bpf_map_lookup_elem(&pc_total, &zero);
	if (total)
		*total += 1; /* per-CPU: no other CPU writes this copy */
	bump(&pc_by_id, id);
	n = __sync_add_and_fetch(&seq, 1);
	bpf_map_update_elem(&lru_last_seq, &id, &n, BPF_ANY);
	bump(&lru_pc_by_id, id);
	bump_inner(&by_parity, id % 2);
	bump_inner(&by_range, id < 100 ? 0 : 1);

	bpf_tail_call(ctx, &jump_table, id % 3);
	/* Only reached when jump_table[id % 3] is empty. */
	__sync_fetch_and_add(&tail_misses, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
