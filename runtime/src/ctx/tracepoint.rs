//! Tracepoint records, laid out from the tracefs `format` file of an event
//! (`/sys/kernel/tracing/events/GROUP/EVENT/format`).
//!
//! Each `field:TYPE NAME; offset:N; size:N; signed:0|1;` line gives one field. Fields before the blank
//! line are the common header (`common_type`, `common_flags`, `common_preempt_count`, `common_pid`).
//! `__data_loc` fields are 32-bit descriptors of variable-length data stored after the fixed part: the low
//! 16 bits are the data's offset from the record start and the high 16 bits its length.

/// One field of a tracepoint record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpField {
    /// Field name (`filename`, `common_pid`).
    pub name: String,
    /// C type as written, without the name and without `__data_loc` (`const char *`, `char[]`).
    pub ty: String,
    /// Byte offset from the record start.
    pub offset: u32,
    /// Size in bytes (4 for `__data_loc` descriptors).
    pub size: u32,
    /// Whether the kernel marks it signed.
    pub signed: bool,
    /// A `__data_loc` descriptor (offset | length << 16) of variable-length data.
    pub data_loc: bool,
    /// Part of the common header.
    pub common: bool,
    /// Array length for `TYPE NAME[N]` fields.
    pub array_len: Option<u32>,
}

/// A parsed `format` file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointFormat {
    /// Event name.
    pub name: String,
    /// Event id (`ID:` line; the `common_type` value).
    pub id: u32,
    /// All fields, common ones first, in file order.
    pub fields: Vec<TpField>,
}

/// A malformed `format` file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tracepoint format line {line}: {message}")]
pub struct TracepointFormatError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl TracepointFormat {
    /// Parses the text of a tracefs `format` file.
    pub fn parse(text: &str) -> Result<TracepointFormat, TracepointFormatError> {
        let mut name = None;
        let mut id = None;
        let mut fields = Vec::new();
        let mut common = true;
        let mut in_format = false;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            let err = |message: String| TracepointFormatError { line: i + 1, message };
            if let Some(v) = line.strip_prefix("name:") {
                name = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("ID:") {
                id = Some(v.trim().parse::<u32>().map_err(|e| err(format!("bad ID `{}`: {e}", v.trim())))?);
            } else if line == "format:" {
                in_format = true;
            } else if line.starts_with("print fmt:") {
                in_format = false;
            } else if in_format && line.is_empty() {
                if !fields.is_empty() {
                    common = false;
                }
            } else if in_format {
                fields.push(parse_field(line, common).map_err(err)?);
            }
        }
        let name = name.ok_or(TracepointFormatError { line: 1, message: "no `name:` line".into() })?;
        let id = id.ok_or(TracepointFormatError { line: 1, message: "no `ID:` line".into() })?;
        if fields.is_empty() {
            return Err(TracepointFormatError { line: 1, message: "no fields".into() });
        }
        Ok(TracepointFormat { name, id, fields })
    }

    /// Size of the fixed part of the record (end of the last field).
    pub fn record_size(&self) -> u32 {
        self.fields.iter().map(|f| f.offset + f.size).max().unwrap_or(0)
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&TpField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

fn parse_field(line: &str, common: bool) -> Result<TpField, String> {
    let mut decl = None;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for part in line.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once(':').ok_or_else(|| format!("expected `key:value`, found `{part}`"))?;
        let num = || value.trim().parse::<u32>().map_err(|e| format!("bad {key} `{value}`: {e}"));
        match key.trim() {
            "field" => decl = Some(value.trim().to_string()),
            "offset" => offset = Some(num()?),
            "size" => size = Some(num()?),
            "signed" => signed = num()? != 0,
            _ => {}
        }
    }
    let decl = decl.ok_or("no `field:`")?;
    let offset = offset.ok_or("no `offset:`")?;
    let size = size.ok_or("no `size:`")?;
    let (data_loc, decl) = match decl.strip_prefix("__data_loc ") {
        Some(rest) => (true, rest.trim().to_string()),
        None => (false, decl),
    };
    // The name is the last identifier; an array suffix `[N]` may follow it.
    let (decl_no_arr, array_len) = match decl.rfind('[') {
        Some(b)
            if decl.ends_with(']') && !decl[..b].trim_end().ends_with(|c: char| !c.is_alphanumeric() && c != '_') =>
        {
            let n = decl[b + 1..decl.len() - 1].trim();
            (decl[..b].trim_end().to_string(), n.parse::<u32>().ok())
        }
        _ => (decl.clone(), None),
    };
    let split = decl_no_arr.rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |p| p + 1);
    let name = decl_no_arr[split..].to_string();
    if name.is_empty() {
        return Err(format!("no field name in `{decl}`"));
    }
    let mut ty = decl_no_arr[..split].trim().to_string();
    if data_loc {
        // `__data_loc char[] name`: the brackets belong to the type.
        ty = ty.trim_end_matches("[]").trim().to_string() + "[]";
    } else if let Some(n) = array_len {
        ty = format!("{ty}[{n}]");
    }
    Ok(TpField { name, ty, offset, size, signed, data_loc, common, array_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENAT: &str = "name: sys_enter_openat\nID: 782\nformat:\n\
\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n\
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n\
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n\
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\
\n\
\tfield:int __syscall_nr;\toffset:8;\tsize:4;\tsigned:1;\n\
\tfield:int dfd;\toffset:16;\tsize:8;\tsigned:0;\n\
\tfield:const char * filename;\toffset:24;\tsize:8;\tsigned:0;\n\
\tfield:__data_loc char[] comm;\toffset:48;\tsize:4;\tsigned:0;\n\
\tfield:char name[16];\toffset:52;\tsize:16;\tsigned:0;\n\
\nprint fmt: \"dfd: 0x%08lx\", REC->dfd\n";

    #[test]
    fn parses_openat_like_format() {
        let f = TracepointFormat::parse(OPENAT).unwrap();
        assert_eq!(f.name, "sys_enter_openat");
        assert_eq!(f.id, 782);
        assert_eq!(f.fields.len(), 9);
        assert!(f.field("common_pid").unwrap().common && f.field("common_pid").unwrap().signed);
        let fname = f.field("filename").unwrap();
        assert_eq!((fname.ty.as_str(), fname.offset, fname.size, fname.common), ("const char *", 24, 8, false));
        let comm = f.field("comm").unwrap();
        assert!(comm.data_loc);
        assert_eq!(comm.ty, "char[]");
        let name = f.field("name").unwrap();
        assert_eq!((name.array_len, name.ty.as_str()), (Some(16), "char[16]"));
        assert_eq!(f.record_size(), 68);
    }

    #[test]
    fn rejects_garbage() {
        assert!(TracepointFormat::parse("name: x\nID: y\n").is_err());
        assert!(TracepointFormat::parse("name: x\nID: 1\nformat:\n\tfield:int a;\toffset:z;\tsize:4;\n").is_err());
    }
}
