// SPDX-License-Identifier: GPL-2.0
/*
 * uprobe_target: the user-space program uprobe_compute.bpf.c probes.
 *
 *   uprobe_target [--stop]
 *
 * Calls compute(i, 2*i - 11) for i = 1..10 (arguments and results include negative numbers), then prints
 * the sum of the results. compute is noinline and noipa so it exists as a real function with the C calling
 * convention (a in edi, b in esi, result in eax) and is not cloned or constant-folded by gcc -O1.
 * With --stop the process stops itself with SIGSTOP first, so a harness can set the probe's target_pid and
 * attach before any call happens (see workload.c for the protocol).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

__attribute__((noinline, noipa)) int compute(int a, int b)
{
	return a * b - a + 7;
}

int main(int argc, char **argv)
{
	int total = 0;
	int i;

	if (argc > 1 && strcmp(argv[1], "--stop") == 0)
		syscall(SYS_kill, (long)getpid(), SIGSTOP);
	for (i = 1; i <= 10; i++)
		total += compute(i, 2 * i - 11);
	printf("total=%d\n", total);
	return 0;
}
