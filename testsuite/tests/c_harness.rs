//! The C API end to end: `examples/c_harness.c` links a native object built from
//! `examples/syscount.bpf.o` with the runtime's static library (`libbpfc_runtime.a`) through
//! `include/bpfc.h`, runs the program on the `workload syscalls` records and prints the `counts` map. Its
//! output must equal what a bpfc session (AOT engine, as `bpfc run`) computes from the same events in
//! `examples/events/syscalls.jsonl`, and the workload's known counts.

use bpfc_compiler::emit::object::{ObjectSource, build_object};
use bpfc_compiler::emit::{CodegenOptions, ProgramSource};
use bpfc_compiler::input;
use bpfc_compiler::lower::LowerOptions;
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::formats::TpFormats;
use bpfc_runtime::events::replay::parse_str;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn c_harness_matches_bpfc_run() {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().and_then(Path::parent).map(|d| d.join("libbpfc_runtime.a")).unwrap();
    assert!(
        lib.is_file(),
        "the runtime's static library is missing at {} (build it with `cargo build -p bpfc-runtime`, as \
         scripts/test.sh does)",
        lib.display()
    );
    let input = input::load(&repo().join("examples/syscount.bpf.o")).unwrap();
    let programs: Vec<ProgramSource<'_>> = input
        .programs
        .iter()
        .map(|p| ProgramSource { name: &p.name, section: &p.section, prog_type: p.prog_type, code: &p.code })
        .collect();
    let opts =
        CodegenOptions { lower: LowerOptions { checked: false, maps: input.maps.clone() }, ..Default::default() };
    let built = build_object(
        &ObjectSource { programs, maps: input.maps.clone(), license: input.license.clone() },
        &opts,
        false,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("bpfc-c-harness-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("syscount.native.o");
    std::fs::write(&obj, &built.bytes).unwrap();
    let harness = dir.join("c_harness");
    let cc = Command::new("cc")
        .arg("-std=c11")
        .arg("-I")
        .arg(repo().join("include"))
        .arg(repo().join("examples/c_harness.c"))
        .arg(&obj)
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&harness)
        .output()
        .unwrap();
    assert!(cc.status.success(), "cc failed: {}", String::from_utf8_lossy(&cc.stderr));
    let out = Command::new(&harness).output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "harness failed: {}", String::from_utf8_lossy(&out.stderr));
    let c_lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();

    // The same events through a bpfc session.
    let formats = TpFormats::dirs(vec![repo().join("examples/events/formats")], false);
    let session = Session::new(&input, Engine::Aot, false, &formats).unwrap();
    let text = std::fs::read_to_string(repo().join("examples/events/syscalls.jsonl")).unwrap();
    let mut log = RunLog::default();
    for (n, event) in parse_str(&text, "syscalls.jsonl", &formats).unwrap().iter().enumerate() {
        session.run_event(event, n + 1, None, &mut log);
    }
    let counts = session.map_contents().into_iter().find(|(n, _)| n == "counts").unwrap().1;
    let mut entries: Vec<(u32, u64)> = counts
        .iter()
        .map(|(k, v)| (u32::from_le_bytes(k[..4].try_into().unwrap()), u64::from_le_bytes(v[..8].try_into().unwrap())))
        .collect();
    entries.sort();
    let bpfc_lines: Vec<String> = entries.iter().map(|(k, v)| format!("{k} => {v}")).collect();
    assert_eq!(c_lines, bpfc_lines, "C harness and bpfc disagree");
    assert_eq!(c_lines, ["39 => 1", "102 => 3", "104 => 4", "110 => 2", "231 => 1"], "the workload's counts");
}
