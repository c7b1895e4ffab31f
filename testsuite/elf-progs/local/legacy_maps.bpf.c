// SPDX-License-Identifier: GPL-2.0
/* Legacy `struct bpf_map_def` maps in SEC("maps") (libbpf >= 1.0 refuses them; bpfc reads them). */
typedef unsigned int u32;
typedef unsigned long long u64;
struct bpf_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;

struct bpf_map_def __attribute__((section("maps"), used)) legacy_hash = {
	.type = 1, .key_size = 4, .value_size = 16, .max_entries = 77, .map_flags = 1,
};
struct bpf_map_def __attribute__((section("maps"), used)) legacy_array = {
	.type = 2, .key_size = 4, .value_size = 8, .max_entries = 3, .map_flags = 0,
};
char LICENSE[] __attribute__((section("license"), used)) = "Dual BSD/GPL";
u32 _version __attribute__((section("version"), used)) = 0x050a00;

__attribute__((section("socket"), used)) int legacy_prog(void *ctx)
{
	u32 k = 0;
	u64 *a = bpf_map_lookup_elem(&legacy_array, &k);
	void *h = bpf_map_lookup_elem(&legacy_hash, &k);
	return (a ? (int)*a : 0) + (h ? 1 : 0);
}
