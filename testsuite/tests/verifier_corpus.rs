//! The verifier corpus judged against the kernel: for every program in `testsuite/verifier/*.s`, bpfc's
//! verdict must equal the file's `expect:` and the kernel's `BPF_PROG_LOAD` verdict must equal the file's
//! `kernel:` (or `expect:`), so any disagreement not written down with a reason fails. Intentional
//! differences must also be listed in docs/verifier.md (checked by the `differences_documented` trial).

use bpfc_compiler::verify::{VerifyInput, verify};
use bpfc_runtime::ctx::{Arch, CtxLayout};
use bpfc_testsuite::verifier_corpus::{CorpusProgram, KernelOracle, load_dir};
use libtest_mimic::{Arguments, Failed, Trial};
use std::path::Path;
use std::sync::Arc;

fn check(p: &CorpusProgram, oracle: Option<&KernelOracle>) -> Result<(), Failed> {
    let ctx = CtxLayout::for_prog_type(p.prog_type, Arch::X86_64).ok_or("no context layout for the program type")?;
    let (ours, disasm) = match &p.code {
        Ok(code) => (run_ours(p, code, &ctx), bpfc_runtime::isa::disassemble(code)),
        Err(e) => (Err(format!("the decoder refuses the bytecode: {e}")), String::new()),
    };
    match (&ours, p.expect_accept) {
        (Ok(_), true) => {}
        (Err(text), false) => {
            if let Some(e) = &p.error
                && !text.contains(e.as_str())
            {
                return Err(format!("rejected, but the message does not mention `{e}`:\n{text}").into());
            }
        }
        (Ok(processed), false) => {
            return Err(format!("bpfc accepted an unsafe program ({}; processed {processed})\n{disasm}", p.desc).into());
        }
        (Err(r), true) => return Err(format!("bpfc rejected a safe program ({}):\n{r}\n{disasm}", p.desc).into()),
    }
    if let Some(o) = oracle {
        let k = o.load(p.prog_type, &p.maps, &p.bytes, &p.btf_funcs()).map_err(|e| e.to_string())?;
        if k.accept != p.kernel_accept {
            let ours = match &ours {
                Ok(_) => "accept".to_string(),
                Err(r) => format!("reject: {r}"),
            };
            return Err(format!(
                "the kernel {} but the corpus expects it to {} ({})\nbpfc: {ours}\nkernel log:\n{}\n{disasm}",
                if k.accept { "accepts" } else { "rejects" },
                if p.kernel_accept { "accept" } else { "reject" },
                p.desc,
                k.log
            )
            .into());
        }
    }
    Ok(())
}

fn run_ours(p: &CorpusProgram, code: &bpfc_runtime::isa::Code, ctx: &CtxLayout) -> Result<u64, String> {
    let input = VerifyInput {
        name: &p.name,
        code,
        prog_type: p.prog_type,
        ctx,
        maps: &p.maps,
        map_fds: &[],
        lines: None,
        gpl: true,
        log_level: 0,
    };
    verify(&input).map(|f| f.processed).map_err(|r| r.to_string())
}

/// An example object: every program through bpfc's verifier, the whole object through the kernel
/// (`bpftool prog loadall`, which creates the maps and BTF as libbpf does). Both must accept.
fn check_example(path: &Path) -> Result<(), Failed> {
    use bpfc_compiler::verify::{MapDef, ctx_layout, license_is_gpl};
    let input = bpfc_compiler::input::load(path).map_err(|e| e.to_string())?;
    let maps: Vec<MapDef> = input.maps.iter().map(MapDef::from).collect();
    for p in &input.programs {
        let ctx = ctx_layout(p.prog_type, 0);
        let vi = VerifyInput {
            name: &p.name,
            code: &p.code,
            prog_type: p.prog_type,
            ctx: &ctx,
            maps: &maps,
            map_fds: &[],
            lines: None,
            gpl: license_is_gpl(&input.license),
            log_level: 0,
        };
        verify(&vi).map_err(|r| format!("bpfc rejects an example the kernel accepts:\n{r}"))?;
    }
    let pin = format!(
        "/sys/fs/bpf/bpfc_verifier_{}_{}",
        std::process::id(),
        path.file_stem().unwrap_or_default().to_string_lossy().replace('.', "_")
    );
    let out = std::process::Command::new("bpftool").args(["prog", "loadall"]).arg(path).arg(&pin).output();
    let _ = std::fs::remove_dir_all(&pin);
    match out {
        Err(e) => {
            eprintln!("SKIP kernel half of {}: bpftool: {e}", path.display());
            Ok(())
        }
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!("the kernel rejects {}:\n{}", path.display(), String::from_utf8_lossy(&o.stderr)).into()),
    }
}

fn main() {
    let args = Arguments::from_args();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("verifier");
    let corpus = match load_dir(&dir) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("corpus error: {e:#}");
            std::process::exit(2);
        }
    };
    let oracle = match KernelOracle::new(Path::new(env!("CARGO_TARGET_TMPDIR"))) {
        Ok(o) => Some(Arc::new(o)),
        Err(e) => {
            eprintln!("SKIP kernel agreement (bpfc verdicts are still checked): {e:#}");
            None
        }
    };
    let mut trials = Vec::new();
    for i in 0..corpus.len() {
        let c = Arc::clone(&corpus);
        let o = oracle.clone();
        trials.push(Trial::test(format!("verifier::{}", corpus[i].name), move || check(&c[i], o.as_deref())));
    }
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let mut objs: Vec<_> = std::fs::read_dir(&examples)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|e| e == "o")).collect()
        })
        .unwrap_or_default();
    objs.sort();
    for o in objs {
        let name = o.file_name().unwrap_or_default().to_string_lossy().to_string();
        trials.push(Trial::test(format!("examples::{name}"), move || check_example(&o)));
    }
    let c = Arc::clone(&corpus);
    trials.push(Trial::test("verifier::differences_documented", move || {
        let doc_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/verifier.md");
        let doc = std::fs::read_to_string(&doc_path).map_err(|e| format!("{}: {e}", doc_path.display()))?;
        let missing: Vec<&str> = c
            .iter()
            .filter(|p| p.kernel_accept != p.expect_accept && !doc.contains(&format!("`{}`", p.name)))
            .map(|p| p.name.as_str())
            .collect();
        if missing.is_empty() { Ok(()) } else { Err(format!("not listed in docs/verifier.md: {missing:?}").into()) }
    }));
    let (safe, unsafe_) = corpus.iter().fold((0, 0), |(s, u), p| if p.expect_accept { (s + 1, u) } else { (s, u + 1) });
    eprintln!("verifier corpus: {} programs ({safe} safe, {unsafe_} unsafe)", corpus.len());
    libtest_mimic::run(&args, trials).exit();
}
