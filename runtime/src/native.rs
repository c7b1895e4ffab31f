//! Loading native objects built by `bpfc build --shared`: `dlopen`, find the `bpfc_object` descriptor,
//! check its magic and ABI version, and copy its tables into owned Rust values.
//!
//! Loading a shared library runs its constructors, so a `.so` is trusted code, exactly as with any
//! `dlopen`; what is checked here is that it is a bpfc object of this ABI version, not that it is benign.
//! Entries are only reachable through `&NativeLibrary`, so no code pointer outlives the mapping.

use crate::abi::{ABI_VERSION, MapDesc, OBJECT_MAGIC, OBJECT_SYMBOL, ObjectDesc, ProgDesc};
use crate::bind::MapDecl;
use crate::exec::{Machine, NativeEntry, Outcome, run_native};
use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};

/// Why a native object could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    /// `dlopen` failed.
    #[error("{path}: cannot load: {message}")]
    Open {
        /// The library.
        path: PathBuf,
        /// `dlerror()` text.
        message: String,
    },
    /// The library has no `bpfc_object` symbol.
    #[error("{path}: no `{OBJECT_SYMBOL}` descriptor: not built by `bpfc build --shared`")]
    NoDescriptor {
        /// The library.
        path: PathBuf,
    },
    /// The descriptor is malformed or from another ABI version.
    #[error("{path}: bad descriptor: {message}")]
    BadDescriptor {
        /// The library.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// One program of a loaded object.
#[derive(Debug)]
pub struct NativeProgram {
    /// Program name.
    pub name: String,
    /// ELF section it came from.
    pub section: String,
    /// Kernel program type.
    pub prog_type: u32,
    /// BPF instructions it was compiled from.
    pub insn_count: u32,
    entry: NativeEntry,
    /// Addresses of its callback trampolines (helper ABI).
    pub callbacks: Vec<u64>,
}

impl NativeProgram {
    /// The program's entry (lent out: it cannot outlive the library).
    pub fn entry(&self) -> &NativeEntry {
        &self.entry
    }
}

/// A loaded native object.
#[derive(Debug)]
pub struct NativeLibrary {
    handle: *mut c_void,
    path: PathBuf,
    /// Programs in descriptor order.
    pub programs: Vec<NativeProgram>,
    /// Maps in `env.maps` order.
    pub maps: Vec<MapDecl>,
    /// Helper ids the code calls.
    pub helpers: Vec<u32>,
    /// License string.
    pub license: String,
    /// Whether the code was built in checked mode.
    pub checked: bool,
}

fn dlerror_text() -> String {
    // SAFETY: dlerror returns null or a valid C string owned by the C library, read before any other dl call.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() { "unknown error".to_string() } else { CStr::from_ptr(e).to_string_lossy().into_owned() }
    }
}

/// Reads a NUL-terminated string from the library, bounded to 4 KiB.
///
/// # Safety
/// `p` must be null or point to readable memory of the library.
unsafe fn string_at(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: the caller guarantees `p` points into the loaded object, whose strings bpfc emitted
    // NUL-terminated.
    unsafe { CStr::from_ptr(p).to_string_lossy().chars().take(4096).collect() }
}

impl NativeLibrary {
    /// Loads `path` and reads its descriptor.
    pub fn open(path: &Path) -> Result<NativeLibrary, NativeError> {
        let c_path = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| NativeError::Open { path: path.into(), message: "path contains NUL".into() })?;
        // SAFETY: dlopen with a valid C string; the handle is closed in Drop.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        if handle.is_null() {
            return Err(NativeError::Open { path: path.into(), message: dlerror_text() });
        }
        let mut lib = NativeLibrary {
            handle,
            path: path.into(),
            programs: Vec::new(),
            maps: Vec::new(),
            helpers: Vec::new(),
            license: String::new(),
            checked: false,
        };
        let sym = CString::new(OBJECT_SYMBOL).expect("no NUL");
        // SAFETY: `handle` is a live dlopen handle and `sym` a valid C string.
        let desc = unsafe { libc::dlsym(handle, sym.as_ptr()) } as *const ObjectDesc;
        if desc.is_null() {
            return Err(NativeError::NoDescriptor { path: path.into() });
        }
        // SAFETY: the symbol is bpfc's descriptor, an `ObjectDesc` laid out by `emit::object`; its magic
        // and version are checked before any other field is trusted, and the tables it points to live in
        // the same mapping with the counts it states.
        unsafe { lib.read_descriptor(&*desc)? };
        Ok(lib)
    }

    /// # Safety
    /// `desc` must be the descriptor of this library (see `open`).
    unsafe fn read_descriptor(&mut self, desc: &ObjectDesc) -> Result<(), NativeError> {
        let bad = |message: String| NativeError::BadDescriptor { path: self.path.clone(), message };
        if desc.magic != OBJECT_MAGIC {
            return Err(bad("wrong magic".into()));
        }
        if desc.abi_version != ABI_VERSION {
            return Err(bad(format!("ABI version {} (this runtime speaks {ABI_VERSION})", desc.abi_version)));
        }
        const LIMIT: u64 = 1 << 20;
        if desc.prog_count > LIMIT || desc.map_count > LIMIT || desc.helper_count > LIMIT {
            return Err(bad("implausible table sizes".into()));
        }
        let mut programs = Vec::new();
        for i in 0..desc.prog_count as usize {
            // SAFETY: `progs` has `prog_count` entries (see `open`).
            let p: &ProgDesc = unsafe { &*desc.progs.add(i) };
            let Some(entry) = p.entry else {
                return Err(bad(format!("program {i} has no entry")));
            };
            if p.callback_count > LIMIT || (p.callback_count > 0 && p.callbacks.is_null()) {
                return Err(bad(format!("program {i} has a bad callback table")));
            }
            let callbacks = (0..p.callback_count as usize)
                // SAFETY: `callbacks` has `callback_count` entries emitted by bpfc (checked non-null above).
                .filter_map(|j| unsafe { *p.callbacks.add(j) })
                .map(|f| f as usize as u64)
                .collect();
            programs.push(NativeProgram {
                // SAFETY: names point to NUL-terminated strings of the object.
                name: unsafe { string_at(p.name) },
                // SAFETY: as above.
                section: unsafe { string_at(p.section) },
                prog_type: p.prog_type,
                insn_count: p.insn_count,
                // SAFETY: bpfc emitted `entry` with the `EntryFn` ABI; it lives as long as `self.handle`.
                entry: unsafe { NativeEntry::from_raw(entry as *const u8) },
                callbacks,
            });
        }
        let mut maps = Vec::new();
        for i in 0..desc.map_count as usize {
            // SAFETY: `maps` has `map_count` entries.
            let m: &MapDesc = unsafe { &*desc.maps.add(i) };
            let init = if m.init.is_null() || m.init_len > LIMIT * 64 {
                None
            } else {
                // SAFETY: `init` points to `init_len` bytes of the object.
                Some(unsafe { std::slice::from_raw_parts(m.init, m.init_len as usize) }.to_vec())
            };
            maps.push(MapDecl {
                // SAFETY: NUL-terminated string of the object.
                name: unsafe { string_at(m.name) },
                map_type: m.map_type,
                key_size: m.key_size,
                value_size: m.value_size,
                max_entries: m.max_entries,
                flags: m.flags,
                inner_map: u32::try_from(m.inner_map).ok(),
                init,
                slots: Vec::new(),
            });
        }
        let helpers = if desc.helpers.is_null() {
            Vec::new()
        } else {
            // SAFETY: `helpers` has `helper_count` u32 entries.
            unsafe { std::slice::from_raw_parts(desc.helpers, desc.helper_count as usize) }.to_vec()
        };
        self.programs = programs;
        self.maps = maps;
        self.helpers = helpers;
        // SAFETY: NUL-terminated string of the object.
        self.license = unsafe { string_at(desc.license) };
        self.checked = desc.checked != 0;
        Ok(())
    }

    /// Reads the descriptor of an object linked into this program (the C API's entry point).
    ///
    /// # Safety
    /// `desc` must point to the `bpfc_object` descriptor of a bpfc native object linked into this
    /// process, which stays mapped for as long as the returned library is used.
    pub unsafe fn from_linked(desc: *const ObjectDesc) -> Result<NativeLibrary, NativeError> {
        let path = PathBuf::from("(linked object)");
        if desc.is_null() {
            return Err(NativeError::NoDescriptor { path });
        }
        let mut lib = NativeLibrary {
            handle: std::ptr::null_mut(),
            path,
            programs: Vec::new(),
            maps: Vec::new(),
            helpers: Vec::new(),
            license: String::new(),
            checked: false,
        };
        // SAFETY: the caller guarantees `desc` is a live bpfc descriptor; `read_descriptor` checks its
        // magic and version before trusting any other field.
        unsafe { lib.read_descriptor(&*desc)? };
        Ok(lib)
    }

    /// The program called `name`.
    pub fn program(&self, name: &str) -> Option<&NativeProgram> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Runs the program called `name` on `ctx`.
    pub fn run(&self, name: &str, machine: &Machine<'_>, ctx: &mut [u8]) -> Option<Outcome> {
        self.program(name).map(|p| run_native(machine, &p.entry, ctx))
    }
}

impl Drop for NativeLibrary {
    fn drop(&mut self) {
        self.programs.clear();
        if !self.handle.is_null() {
            // SAFETY: the handle came from dlopen and no entry survives `self` (entries are owned by
            // `self.programs`, cleared above, and only lent out through `&self`).
            unsafe { libc::dlclose(self.handle) };
        }
    }
}
