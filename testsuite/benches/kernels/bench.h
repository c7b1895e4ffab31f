/* The compute kernels of the bpfc benchmark, written once and compiled twice: into BPF (bench.bpf.c, via
 * clang-19 -target bpf) and natively (native.c, via clang-19 -O2) so that every engine runs the same
 * algorithm on the same input. Every kernel reads the 4 KiB input `in` and returns a 64-bit checksum. */
#ifndef BPFC_BENCH_H
#define BPFC_BENCH_H

#define BENCH_LEN 4096
#define BENCH_WORDS (BENCH_LEN / 8)

#ifndef BENCH_FN
#define BENCH_FN static inline __attribute__((always_inline))
#endif

typedef unsigned long long u64_t;
typedef unsigned int u32_t;
typedef unsigned char u8_t;

struct bench_buf {
    u8_t bytes[BENCH_LEN];
};

/* 1. A loop over a byte buffer: FNV-1a. */
BENCH_FN u64_t bench_fnv(const struct bench_buf *in) {
    u64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < BENCH_LEN; i++) {
        h ^= in->bytes[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* 2. Prime count by trial division below a limit taken from the input (at most 400: the kernel verifier
 * walks every iteration). */
BENCH_FN u64_t bench_primes(const struct bench_buf *in) {
    u32_t limit = 300 + (in->bytes[0] & 0x3f);
    u64_t count = 0;
    for (u32_t n = 2; n < 400; n++) {
        if (n >= limit)
            break;
        int prime = 1;
        for (u32_t d = 2; d < 32; d++) {
            if (d * d > n)
                break;
            if (n % d == 0) {
                prime = 0;
                break;
            }
        }
        count += prime;
    }
    return count;
}

/* 3. log2 of 1024 32-bit values, as a histogram checksum (branchy binary search, as the kernel's log2). */
BENCH_FN u32_t bench_log2_one(u32_t v) {
    u32_t r = 0, shift;
    shift = (v > 0xffff) << 4; v >>= shift; r |= shift;
    shift = (v > 0xff) << 3; v >>= shift; r |= shift;
    shift = (v > 0xf) << 2; v >>= shift; r |= shift;
    shift = (v > 0x3) << 1; v >>= shift; r |= shift;
    r |= (v >> 1);
    return r;
}

BENCH_FN u64_t bench_log2(const struct bench_buf *in) {
    u64_t hist[32] = {0};
    const u32_t *w = (const u32_t *)in->bytes;
    for (int i = 0; i < BENCH_LEN / 4; i++)
        hist[bench_log2_one(w[i]) & 31]++;
    u64_t sum = 0;
    for (int i = 0; i < 32; i++)
        sum = sum * 31 + hist[i];
    return sum;
}

/* 4. memcpy-like copying: 8-byte words into `out`, then a checksum of the copy. */
BENCH_FN u64_t bench_copy(const struct bench_buf *in, struct bench_buf *out) {
    const u64_t *src = (const u64_t *)in->bytes;
    u64_t *dst = (u64_t *)out->bytes;
    for (int i = 0; i < BENCH_WORDS; i++)
        dst[i] = src[i];
    return dst[0] ^ dst[BENCH_WORDS / 2] ^ dst[BENCH_WORDS - 1];
}

/* 5. String compare: 64 pairs of 16-byte NUL-padded strings; counts equal, less and greater. */
BENCH_FN u64_t bench_strcmp(const struct bench_buf *in) {
    u64_t eq = 0, lt = 0;
    for (int p = 0; p < 64; p++) {
        const u8_t *a = &in->bytes[p * 32];
        const u8_t *b = &in->bytes[p * 32 + 16];
        int r = 0;
        for (int i = 0; i < 16; i++) {
            if (a[i] != b[i]) {
                r = a[i] < b[i] ? -1 : 1;
                break;
            }
            if (a[i] == 0)
                break;
        }
        eq += r == 0;
        lt += r < 0;
    }
    return eq << 32 | lt;
}

/* 6. Switch dispatch: a tiny bytecode interpreter over the first 512 input bytes (one opcode each; the
 * kernel verifier allows at most 8192 jumps along one path). */
BENCH_FN u64_t bench_switch(const struct bench_buf *in) {
    u64_t acc = 1, x = 7;
    for (int i = 0; i < 512; i++) {
        u8_t op = in->bytes[i];
        switch (op & 7) {
        case 0: acc += x; break;
        case 1: acc ^= x << 3; break;
        case 2: acc -= op; break;
        case 3: x = x * 5 + 1; break;
        case 4: acc = (acc << 1) | (acc >> 63); break;
        case 5: x ^= acc; break;
        case 6: acc += op * x; break;
        default: x += 3; break;
        }
    }
    return acc ^ x;
}

#endif
