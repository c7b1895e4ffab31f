/* Not a BPF program: its BTF stands in for another architecture's kernel BTF, with a `struct pt_regs`
 * whose `di` and `si` sit at other offsets (24 and 8) than on x86-64 (112 and 104). */
struct pt_regs {
	unsigned long r0;
	unsigned long si;
	unsigned long r2;
	unsigned long di;
};
struct pt_regs fake_regs_instance;
