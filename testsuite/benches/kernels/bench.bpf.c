/* The benchmark kernels as XDP programs, so the kernel's JIT can run the same bytecode through
 * BPF_PROG_TEST_RUN with a repeat count. Input and output live in array maps (the kernel passes at most
 * ~3.5 KB of packet); the 64-bit checksum is stored in `result` and the low 32 bits returned. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bench.h"

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, u32_t);
    __type(value, struct bench_buf);
} buffers SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, u32_t);
    __type(value, u64_t);
} result SEC(".maps");

static __always_inline int finish(u64_t v) {
    u32_t k = 0;
    u64_t *r = bpf_map_lookup_elem(&result, &k);
    if (r)
        *r = v;
    return (int)(v & 0x7fffffff);
}

#define INPUT()                                                                                      \
    u32_t k0 = 0;                                                                                    \
    const struct bench_buf *in = bpf_map_lookup_elem(&buffers, &k0);                                 \
    if (!in)                                                                                         \
        return 0;

SEC("xdp") int bench_fnv_prog(struct xdp_md *ctx) { INPUT(); return finish(bench_fnv(in)); }
SEC("xdp") int bench_primes_prog(struct xdp_md *ctx) { INPUT(); return finish(bench_primes(in)); }
SEC("xdp") int bench_log2_prog(struct xdp_md *ctx) { INPUT(); return finish(bench_log2(in)); }
SEC("xdp") int bench_strcmp_prog(struct xdp_md *ctx) { INPUT(); return finish(bench_strcmp(in)); }
SEC("xdp") int bench_dispatch_prog(struct xdp_md *ctx) { INPUT(); return finish(bench_switch(in)); }
SEC("xdp") int bench_copy_prog(struct xdp_md *ctx)
{
    INPUT();
    u32_t k1 = 1;
    struct bench_buf *out = bpf_map_lookup_elem(&buffers, &k1);
    if (!out)
        return 0;
    return finish(bench_copy(in, out));
}

char LICENSE[] SEC("license") = "GPL";
