/* The native twins of the benchmark kernels (bench.h compiled with clang-19 -O2 for this machine), timed
 * in-process: prints "name ns_per_run checksum" per kernel, best of PASSES passes of RUNS runs each. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BENCH_FN static __attribute__((noinline))
#include "bench.h"

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static struct bench_buf in, out;

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s INPUT RUNS PASSES\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f || fread(in.bytes, 1, BENCH_LEN, f) != BENCH_LEN) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 2;
    }
    long runs = atol(argv[2]), passes = atol(argv[3]);
    const char *names[] = {"fnv", "primes", "log2", "copy", "strcmp", "dispatch"};
    for (int k = 0; k < 6; k++) {
        double best = 1e30;
        volatile u64_t sink = 0;
        for (long p = 0; p < passes; p++) {
            double t0 = now_ns();
            for (long r = 0; r < runs; r++) {
                u64_t v;
                switch (k) {
                case 0: v = bench_fnv(&in); break;
                case 1: v = bench_primes(&in); break;
                case 2: v = bench_log2(&in); break;
                case 3: v = bench_copy(&in, &out); break;
                case 4: v = bench_strcmp(&in); break;
                default: v = bench_switch(&in); break;
                }
                sink = v;
                __asm__ volatile("" ::: "memory");
            }
            double per = (now_ns() - t0) / runs;
            if (per < best) best = per;
        }
        printf("%s %.1f %llu\n", names[k], best, (unsigned long long)sink);
    }
    return 0;
}
