//! Section name → program type and attach target, by libbpf's `SEC()` conventions (libbpf 1.x: a name
//! ending in `+` in libbpf's table accepts `name` and `name/...`; the others must match exactly).

use super::Attach;
use bpfc_runtime::abi::ProgType;

/// Why a section cannot be a bpfc program.
pub type Refusal = String;

fn prefixed<'a>(sec: &'a str, prefix: &str) -> Option<&'a str> {
    if sec == prefix {
        return Some("");
    }
    sec.strip_prefix(prefix).and_then(|r| r.strip_prefix('/'))
}

/// `func+0x10` or `func+16` → (func, offset).
fn func_offset(spec: &str) -> Result<(String, u64), Refusal> {
    match spec.rsplit_once('+') {
        Some((f, off)) => {
            let o = if let Some(h) = off.strip_prefix("0x") { u64::from_str_radix(h, 16) } else { off.parse() };
            Ok((f.to_string(), o.map_err(|_| format!("invalid offset `{off}` in probe target `{spec}`"))?))
        }
        None => Ok((spec.to_string(), 0)),
    }
}

/// Classifies a program section name.
pub fn classify(sec: &str) -> Result<(ProgType, Attach), Refusal> {
    for (p, ret) in [("kprobe", false), ("kretprobe", true)] {
        if let Some(rest) = prefixed(sec, p) {
            let (func, offset) = func_offset(rest)?;
            if ret && offset != 0 {
                return Err(format!("kretprobe `{rest}` cannot have an offset"));
            }
            return Ok((ProgType::Kprobe, Attach::Kprobe { func, offset, retprobe: ret }));
        }
    }
    for (p, ret) in [("uprobe", false), ("uretprobe", true), ("uprobe.s", false), ("uretprobe.s", true)] {
        if let Some(rest) = prefixed(sec, p) {
            if rest.is_empty() {
                return Ok((
                    ProgType::Kprobe,
                    Attach::Uprobe { binary: String::new(), func: String::new(), offset: 0, retprobe: ret },
                ));
            }
            let Some((binary, spec)) = rest.rsplit_once(':') else {
                return Err(format!("uprobe target `{rest}` is not `BINARY:FUNCTION[+OFFSET]`"));
            };
            let (func, offset) = if let Some(h) = spec.strip_prefix("0x") {
                let o = u64::from_str_radix(h, 16).map_err(|_| format!("invalid uprobe offset `{spec}`"))?;
                (String::new(), o)
            } else {
                func_offset(spec)?
            };
            return Ok((ProgType::Kprobe, Attach::Uprobe { binary: binary.to_string(), func, offset, retprobe: ret }));
        }
    }
    for (p, ret) in [("ksyscall", false), ("kretsyscall", true)] {
        if let Some(rest) = prefixed(sec, p) {
            return Ok((ProgType::Kprobe, Attach::Ksyscall { name: rest.to_string(), ret }));
        }
    }
    for p in ["tracepoint", "tp"] {
        if let Some(rest) = prefixed(sec, p) {
            if rest.is_empty() {
                return Ok((ProgType::Tracepoint, Attach::Tracepoint { category: String::new(), name: String::new() }));
            }
            let Some((category, name)) = rest.split_once('/') else {
                return Err(format!("tracepoint `{rest}` is not `CATEGORY/NAME`"));
            };
            return Ok((ProgType::Tracepoint, Attach::Tracepoint { category: category.into(), name: name.into() }));
        }
    }
    for p in ["raw_tracepoint", "raw_tp"] {
        if let Some(rest) = prefixed(sec, p) {
            return Ok((ProgType::RawTracepoint, Attach::RawTracepoint { name: rest.into() }));
        }
    }
    if let Some(rest) = prefixed(sec, "tp_btf") {
        return Ok((ProgType::Tracing, Attach::TpBtf { name: rest.into() }));
    }
    for p in [
        "fentry",
        "fexit",
        "fmod_ret",
        "fentry.s",
        "fexit.s",
        "lsm",
        "lsm.s",
        "lsm_cgroup",
        "iter",
        "iter.s",
        "struct_ops",
        "struct_ops.s",
        "freplace",
    ] {
        if prefixed(sec, p).is_some() {
            return Err(format!(
                "`{p}` programs attach to kernel functions through BPF trampolines, which a user-space runtime cannot provide"
            ));
        }
    }
    Ok(match sec {
        "perf_event" => (ProgType::PerfEvent, Attach::PerfEvent),
        "socket" => (ProgType::SocketFilter, Attach::SocketFilter),
        "xdp" | "xdp.frags" => (ProgType::Xdp, Attach::Xdp),
        "tc" | "classifier" | "tc/ingress" | "tc/egress" | "tcx/ingress" | "tcx/egress" => {
            (ProgType::SchedCls, Attach::Tc)
        }
        "syscall" => (ProgType::Syscall, Attach::Syscall),
        _ if sec.starts_with("xdp/") => (ProgType::Xdp, Attach::Xdp),
        _ => return Err("unknown program section name (not a libbpf SEC() convention bpfc supports)".to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            classify("kprobe/do_sys_openat2").unwrap().1,
            Attach::Kprobe { func: "do_sys_openat2".into(), offset: 0, retprobe: false }
        );
        assert_eq!(
            classify("uretprobe//usr/bin/x:main+0x10").unwrap().1,
            Attach::Uprobe { binary: "/usr/bin/x".into(), func: "main".into(), offset: 16, retprobe: true }
        );
        assert_eq!(
            classify("tp/sched/sched_switch").unwrap(),
            (ProgType::Tracepoint, Attach::Tracepoint { category: "sched".into(), name: "sched_switch".into() })
        );
        assert_eq!(classify("raw_tp/sys_enter").unwrap().1, Attach::RawTracepoint { name: "sys_enter".into() });
        assert!(classify("fentry/do_unlinkat").unwrap_err().contains("trampolines"));
        assert!(classify("kprobex").is_err());
        assert_eq!(classify("ksyscall/openat").unwrap().1, Attach::Ksyscall { name: "openat".into(), ret: false });
    }
}
