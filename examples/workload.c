// SPDX-License-Identifier: GPL-2.0
/*
 * workload: a process whose system calls are known exactly, for comparing the kernel's and bpfc's results
 * of the examples filtered to one pid (examples/README.md lists the expected map contents per mode).
 *
 *   workload [--stop] MODE        MODE = syscalls | open | write | exec | sleep
 *   workload [--stop] getppid N   (a benchmark: N getppid calls, timed)
 *
 * With --stop the process stops itself with SIGSTOP (kill(2) on its own pid) before the measured part. The
 * harness waits until it is stopped (waitpid WUNTRACED, or state 'T' in /proc/PID/stat), sets the examples'
 * `target_pid` to its pid, loads and attaches them, then sends SIGCONT. Both the kill syscall's entry and
 * exit happen before the stop, so after SIGCONT the only system calls are the ones listed per mode below,
 * made through syscall(2) so that libc adds nothing, ending with exit_group(2).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static char buf[8192];

/* getpid x1, getppid x2, getuid x3, getgid x4 */
static void mode_syscalls(void)
{
	int i;

	syscall(SYS_getpid);
	for (i = 0; i < 2; i++)
		syscall(SYS_getppid);
	for (i = 0; i < 3; i++)
		syscall(SYS_getuid);
	for (i = 0; i < 4; i++)
		syscall(SYS_getgid);
}

/* openat x3 (one fails with ENOENT), close x2 */
static void mode_open(void)
{
	long a, b;

	a = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY);
	syscall(SYS_openat, AT_FDCWD, "/nonexistent/bpfc-example", O_RDONLY);
	b = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY | O_CLOEXEC);
	syscall(SYS_close, a);
	syscall(SYS_close, b);
}

/* openat x1, write x9 with the sizes below, close x1 */
static const unsigned long write_sizes[] = { 0, 1, 15, 16, 200, 256, 1000, 4096, 5000 };

static void mode_write(void)
{
	unsigned long i;
	long fd;

	fd = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY);
	for (i = 0; i < sizeof(write_sizes) / sizeof(write_sizes[0]); i++)
		syscall(SYS_write, fd, buf, write_sizes[i]);
	syscall(SYS_close, fd);
}

/* execve /usr/bin/env, which execs /bin/true: two sched_process_exec events for this pid. */
static void mode_exec(void)
{
	char *const argv[] = { "env", "/bin/true", NULL };
	char *const envp[] = { NULL };

	syscall(SYS_execve, "/usr/bin/env", argv, envp);
}

/* nanosleep 1 ms x10: ten wakeups of this task (plus the one SIGCONT causes). */
static void mode_sleep(void)
{
	struct timespec ts = { .tv_sec = 0, .tv_nsec = 1000000 };
	int i;

	for (i = 0; i < 10; i++)
		syscall(SYS_nanosleep, &ts, NULL);
}

/*
 * getppid xN, then write(1) of one line "loop_ns T": the loop's CLOCK_MONOTONIC duration, read through the
 * vDSO (no system call), so a harness learns what tracing costs the traced process itself, excluding exec
 * and exit. getppid is about the cheapest system call there is, so the tracing cost dominates.
 */
static void mode_getppid(long n)
{
	struct timespec a, b;
	char line[64];
	long i;
	int len;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	clock_gettime(CLOCK_MONOTONIC, &b);
	len = snprintf(line, sizeof(line), "loop_ns %lld\n",
		       (long long)(b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec));
	syscall(SYS_write, 1L, line, (long)len);
}

int main(int argc, char **argv)
{
	long n = 0;
	const char *mode;
	int stop = 0;

	if (argc > 1 && strcmp(argv[1], "--stop") == 0) {
		stop = 1;
		argc--;
		argv++;
	}
	if (argc == 3 && strcmp(argv[1], "getppid") == 0) {
		n = atol(argv[2]);
	} else if (argc != 2) {
		fprintf(stderr, "usage: workload [--stop] syscalls|open|write|exec|sleep|getppid N\n");
		return 2;
	}
	mode = argv[1];
	if (n == 0 && strcmp(mode, "syscalls") && strcmp(mode, "open") && strcmp(mode, "write") && strcmp(mode, "exec") &&
	    strcmp(mode, "sleep")) {
		fprintf(stderr, "workload: unknown mode %s\n", mode);
		return 2;
	}
	memset(buf, 'x', sizeof(buf));
	if (stop)
		syscall(SYS_kill, (long)getpid(), SIGSTOP);

	if (strcmp(mode, "syscalls") == 0)
		mode_syscalls();
	else if (strcmp(mode, "open") == 0)
		mode_open();
	else if (strcmp(mode, "write") == 0)
		mode_write();
	else if (strcmp(mode, "exec") == 0)
		mode_exec(); /* only returns if execve failed */
	else if (n > 0)
		mode_getppid(n);
	else
		mode_sleep();
	syscall(SYS_exit_group, 0L);
	return 1;
}
