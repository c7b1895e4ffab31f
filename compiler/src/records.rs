//! Which BTF type a ring buffer or perf event array record is printed as. Those maps carry no value type
//! (a record is whatever the program reserved), so the type comes from the user (`--record-type
//! [MAP=]TYPE`) or, failing that, from the object's own BTF: clang emits a struct there when the program
//! uses it as a map value, a function parameter or in a CO-RE relocation, which is how event structs
//! usually appear. A record is decoded only when exactly one named struct or union has its size (trace
//! event records and register sets excluded); otherwise it stays hex, and the ambiguity is reported once.

use crate::btf::Btf;
use crate::btf::Kind;
use crate::btf::format::format_value;
use crate::input::Input;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

/// A `--record-type` argument: `MAP=TYPE` (that map) or `TYPE` (every record map).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordTypeArg {
    /// The map, or `None` for all.
    pub map: Option<String>,
    /// `struct NAME`, `union NAME` or a bare name.
    pub type_name: String,
}

impl std::str::FromStr for RecordTypeArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (map, type_name) = match s.split_once('=') {
            Some((m, t)) => (Some(m.trim().to_string()), t.trim().to_string()),
            None => (None, s.trim().to_string()),
        };
        if type_name.is_empty() || map.as_ref().is_some_and(String::is_empty) {
            return Err(format!("`{s}`: expected TYPE or MAP=TYPE"));
        }
        Ok(RecordTypeArg { map, type_name })
    }
}

/// Why `--record-type` could not be honoured.
#[derive(Debug, thiserror::Error)]
pub enum RecordTypeError {
    /// The object has no BTF to take types from.
    #[error("--record-type {0}: the object has no BTF")]
    NoBtf(String),
    /// No struct/union/typedef of that name.
    #[error("--record-type {0}: no type of that name in the object's BTF")]
    UnknownType(String),
    /// The map does not exist or is not a ring buffer / perf event array.
    #[error("--record-type {0}: no ring buffer or perf event array map of that name")]
    UnknownMap(String),
}

/// Record decoding for one object.
#[derive(Debug, Default)]
pub struct RecordTypes {
    btf: Option<Btf>,
    /// Types chosen by the user, by map (`None` key: every map).
    chosen: BTreeMap<Option<String>, u32>,
    /// Inferred type per record size (`None`: zero or several candidates).
    by_size: RefCell<BTreeMap<usize, Option<u32>>>,
    /// (map, size) pairs whose ambiguity was already reported.
    reported: RefCell<BTreeSet<(String, usize)>>,
}

/// Names of types that describe contexts rather than records.
fn is_context_type(name: &str) -> bool {
    name.starts_with("trace_event_raw_") || name == "trace_entry" || name.ends_with("pt_regs")
}

const RECORD_MAP_TYPES: [u32; 2] =
    [bpfc_runtime::maps::MapType::RingBuf as u32, bpfc_runtime::maps::MapType::PerfEventArray as u32];

impl RecordTypes {
    /// Record types for `input`, with the user's choices applied.
    pub fn new(input: &Input, args: &[RecordTypeArg]) -> Result<RecordTypes, RecordTypeError> {
        let btf = input.object.as_ref().and_then(|o| o.btf.clone());
        let mut chosen = BTreeMap::new();
        for a in args {
            let spelled = || match &a.map {
                Some(m) => format!("{m}={}", a.type_name),
                None => a.type_name.clone(),
            };
            let Some(btf) = &btf else { return Err(RecordTypeError::NoBtf(spelled())) };
            if let Some(m) = &a.map
                && !input.maps.iter().any(|d| &d.name == m && RECORD_MAP_TYPES.contains(&d.map_type))
            {
                return Err(RecordTypeError::UnknownMap(spelled()));
            }
            let id = find_type(btf, &a.type_name).ok_or_else(|| RecordTypeError::UnknownType(spelled()))?;
            chosen.insert(a.map.clone(), id);
        }
        Ok(RecordTypes { btf, chosen, ..RecordTypes::default() })
    }

    /// `record` of map `map` as `(struct NAME) {...}`, or `None` when no type is known for it.
    pub fn describe(&self, map: &str, record: &[u8]) -> Option<String> {
        let btf = self.btf.as_ref()?;
        let id = match self.chosen.get(&Some(map.to_string())).or_else(|| self.chosen.get(&None)) {
            Some(&id) => id,
            None => self.inferred(btf, map, record.len())?,
        };
        Some(format!("({}) {}", btf.describe(id), format_value(btf, id, record)))
    }

    fn inferred(&self, btf: &Btf, map: &str, size: usize) -> Option<u32> {
        if let Some(&known) = self.by_size.borrow().get(&size) {
            return known;
        }
        let candidates: Vec<u32> = (1..btf.type_count())
            .filter(|&id| {
                let name = btf.name(id);
                matches!(btf.ty(id).kind, Kind::Struct { size: s, .. } | Kind::Union { size: s, .. } if s as usize == size)
                    && !name.is_empty()
                    && !is_context_type(name)
            })
            .collect();
        let pick = (candidates.len() == 1).then(|| candidates[0]);
        if candidates.len() > 1 && self.reported.borrow_mut().insert((map.to_string(), size)) {
            let names: Vec<String> = candidates.iter().map(|&id| btf.describe(id)).collect();
            eprintln!(
                "bpfc: {map}: {size}-byte records could be {}; printing hex (choose with --record-type {map}=TYPE)",
                names.join(" or ")
            );
        }
        self.by_size.borrow_mut().insert(size, pick);
        pick
    }
}

/// A struct, union or typedef named `name` (`struct ` / `union ` prefixes select the kind).
fn find_type(btf: &Btf, name: &str) -> Option<u32> {
    if let Some(n) = name.strip_prefix("struct ") {
        return btf.find_by_name(n.trim(), |k| matches!(k, Kind::Struct { .. }));
    }
    if let Some(n) = name.strip_prefix("union ") {
        return btf.find_by_name(n.trim(), |k| matches!(k, Kind::Union { .. }));
    }
    btf.find_by_name(name, |k| matches!(k, Kind::Struct { .. } | Kind::Union { .. } | Kind::Typedef(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_type_args_parse() {
        assert_eq!(
            "events=struct open_event".parse::<RecordTypeArg>(),
            Ok(RecordTypeArg { map: Some("events".into()), type_name: "struct open_event".into() })
        );
        assert_eq!("open_event".parse::<RecordTypeArg>().map(|a| a.map), Ok(None));
        assert!("=x".parse::<RecordTypeArg>().is_err());
        assert!("events=".parse::<RecordTypeArg>().is_err());
    }
}
