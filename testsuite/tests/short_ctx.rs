//! A context shorter than the one a program was verified against (here a raw_tp event with one arg for
//! a program that reads two) runs zero-padded on every engine: verified native code must never read past
//! the buffer, and the engines must agree. raw_syscount then counts syscall id 0 once (its `id` argument
//! reads as 0), which is what the padding means, on the interpreter, the JIT and AOT.

use bpfc_compiler::input;
use bpfc_compiler::session::{Engine, RunLog, Session};
use bpfc_runtime::events::TpFormats;
use bpfc_runtime::events::replay::parse_str;
use std::path::Path;

#[test]
fn raw_tp_event_with_fewer_args_runs_padded_on_every_engine() {
    let object = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/raw_syscount.bpf.o");
    let input = input::load(&object).unwrap();
    let formats = TpFormats::dirs(Vec::<std::path::PathBuf>::new(), false);
    let line = r#"{"pid":7,"tid":7,"cpu":0,"time_ns":1,"comm":"short","raw_tp":"sys_enter","raw_tp_args":[5]}"#;
    let events = parse_str(line, "short.jsonl", &formats).unwrap();
    assert_eq!(events[0].ctx.len(), 8, "the event carries one arg");
    for engine in [Engine::Interp, Engine::Jit, Engine::Aot] {
        let session = Session::new(&input, engine, false, &formats).unwrap();
        let mut log = RunLog::default();
        session.run_event(&events[0], 1, None, &mut log);
        assert_eq!((log.runs, log.traps), (1, 0), "{}: {:?}", engine.name(), log.lines);
        let maps = session.map_contents();
        let counts = &maps.iter().find(|(n, _)| n == "counts").unwrap().1;
        assert_eq!(counts, &vec![(0u32.to_le_bytes().to_vec(), 1u64.to_le_bytes().to_vec())], "{}", engine.name());
    }
}
