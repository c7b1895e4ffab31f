//! Ring buffer records printed by their BTF type (`bpfc run`, `--record-type`): the examples' records
//! decode by inference from the object's BTF (exactly one struct of the record's size), an explicit
//! choice overrides it, and bad choices are clear errors. Expected field values come from the replay
//! files and the examples' C source, not from bpfc.

use bpfc_compiler::input::{self, Input};
use bpfc_compiler::records::{RecordTypeArg, RecordTypeError, RecordTypes};
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::TpFormats;
use bpfc_runtime::events::replay::parse_str;
use std::path::{Path, PathBuf};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples")
}

fn object(name: &str) -> Input {
    input::load(&examples().join(name)).unwrap()
}

/// The ringbuf lines of replaying `events` through `object` with `args`.
fn ringbuf_lines(object_name: &str, events: &str, args: &[&str]) -> Vec<String> {
    let input = object(object_name);
    let formats = TpFormats::dirs([examples().join("events/formats")], false);
    let mut session = Session::new(&input, Engine::Interp, false, &formats).unwrap();
    let args: Vec<RecordTypeArg> = args.iter().map(|a| a.parse().unwrap()).collect();
    session.set_record_types(RecordTypes::new(&input, &args).unwrap());
    let text = std::fs::read_to_string(examples().join("events").join(events)).unwrap();
    let mut log = RunLog::default();
    for (n, event) in parse_str(&text, events, &formats).unwrap().iter().enumerate() {
        session.run_event(event, n + 1, None, &mut log);
    }
    log.lines.into_iter().filter(|l| l.starts_with("  ringbuf ")).collect()
}

#[test]
fn opensnoop_records_decode_by_inference() {
    let lines = ringbuf_lines("opensnoop.bpf.o", "open.jsonl", &[]);
    assert_eq!(
        lines[0],
        "  ringbuf events: (struct open_event) {kind: 0, pid: 4242, tid: 4242, flags: 0, ret: 0, \
         comm: \"workload\", filename: \"/dev/null\"}"
    );
    assert!(
        lines[1].starts_with("  ringbuf events: (struct open_event) {kind: 1, pid: 4242, tid: 4242, flags: 0, ret: 3,")
    );
}

#[test]
fn execsnoop_records_decode_by_inference() {
    let lines = ringbuf_lines("execsnoop.bpf.o", "exec.jsonl", &[]);
    assert!(lines[0].starts_with("  ringbuf events: (struct exec_event) {pid: 4242,"), "{}", lines[0]);
    assert!(lines[0].ends_with("comm: \"env\", filename: \"/usr/bin/env\"}"), "{}", lines[0]);
}

#[test]
fn an_explicit_type_overrides_inference() {
    // Any struct can be asked for; the record is printed as that type's fields.
    let lines = ringbuf_lines("opensnoop.bpf.o", "open.jsonl", &["events=struct inflight_open"]);
    assert!(lines[0].starts_with("  ringbuf events: (struct inflight_open) {"), "{}", lines[0]);
    let all = ringbuf_lines("opensnoop.bpf.o", "open.jsonl", &["open_event"]);
    assert!(all[0].starts_with("  ringbuf events: (struct open_event) {kind: 0,"), "{}", all[0]);
}

#[test]
fn bad_choices_are_errors() {
    let input = object("opensnoop.bpf.o");
    let arg = |s: &str| vec![s.parse::<RecordTypeArg>().unwrap()];
    assert!(matches!(RecordTypes::new(&input, &arg("nosuch=struct open_event")), Err(RecordTypeError::UnknownMap(_))));
    assert!(matches!(
        RecordTypes::new(&input, &arg("inflight=struct open_event")),
        Err(RecordTypeError::UnknownMap(_))
    ));
    assert!(matches!(RecordTypes::new(&input, &arg("events=struct nosuch")), Err(RecordTypeError::UnknownType(_))));
    assert!("=x".parse::<RecordTypeArg>().is_err());
}

#[test]
fn records_of_an_unknown_size_stay_hex() {
    // Inference is by size: a record no struct in the object's BTF matches is not typed.
    let input = object("opensnoop.bpf.o");
    let types = RecordTypes::new(&input, &[]).unwrap();
    assert!(types.describe("events", &[0u8; 168]).is_some_and(|s| s.starts_with("(struct open_event)")));
    assert_eq!(types.describe("events", &[0u8; 3]), None, "no 3-byte struct");
}
