//! A safe wrapper over the bindings: an owned xl config handle, libxlutil's vif rate
//! parser and libxl's NIC type names.
//!
//! libxlutil reports problems by writing to a `FILE *` given to `xlu_cfg_init`; each
//! [`Config`] gives it an in-memory stream (`open_memstream`), so errors carry
//! libxlutil's own text (``x.cfg:3: config parsing error near `+': lexical error``).
//!
//! Guards against libxlutil's sharp edges, so no input can crash the process:
//! - a NUL byte inside a quoted string trips an assertion in libxlutil 4.17 (the process
//!   aborts), so [`parse_config`] refuses every input with a NUL byte
//!   ([`XlError::NulByte`]) without calling libxlutil;
//! - `xlu_cfg_readdata` takes an `int` length: longer inputs are refused
//!   ([`XlError::TooLarge`]);
//! - `xlu_vif_parse_rate` checks `errno == ERANGE` without clearing `errno` first, so a
//!   stale `ERANGE` from any earlier call would make it refuse a valid rate:
//!   [`parse_rate`] clears `errno` before the call;
//! - `libxl_device_nic` is declared for Xen 4.17; the NIC handed to libxl has spare room
//!   after it, so a library whose structure grew in a later release cannot write past it
//!   (the `abi` test still reports the mismatch).

use std::cell::Cell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::mem::MaybeUninit;
use std::ptr::{self, NonNull};

use crate::bindings as ffi;

/// Why a libxlutil or libxl call did not give a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XlError {
    /// libxlutil refused the input. The message is what it reported (several lines at
    /// times, e.g. its "looks like Python" warnings), without the final newline.
    Rejected {
        /// The errno value libxlutil returned (`EINVAL`, `EOVERFLOW`, ...).
        code: i32,
        /// libxlutil's report.
        message: String,
    },
    /// A setting holds a list where a string was asked for, or the reverse. The message
    /// is libxlutil's (``x.cfg:3: warning: parameter `type' is a list but should be a
    /// single value``).
    WrongType {
        /// The setting.
        name: String,
        /// libxlutil's report.
        message: String,
    },
    /// The input has a NUL byte, which libxlutil cannot be given (a NUL inside a quoted
    /// string makes libxlutil 4.17 abort the process).
    NulByte {
        /// The file name.
        file: String,
        /// The line (from 1) of the first NUL byte.
        line: u32,
    },
    /// A name or value passed to libxlutil contains a NUL byte (C strings cannot).
    InteriorNul {
        /// What the text is (`file name`, `setting name`, `rate`, `NIC type`).
        what: &'static str,
        /// The text.
        text: String,
    },
    /// The input is longer than libxlutil's `int` length allows.
    TooLarge {
        /// The file name.
        file: String,
        /// The input's length.
        len: usize,
    },
    /// libxl knows no NIC type by this name.
    UnknownNicType {
        /// The name given.
        name: String,
        /// libxl's error code.
        code: i32,
    },
    /// The system refused a resource (memory, the report stream).
    System(String),
}

// A hand-written Display: this -sys crate depends on libc only.
impl std::fmt::Display for XlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            XlError::Rejected { message, .. } | XlError::WrongType { message, .. } => {
                f.write_str(message)
            }
            XlError::NulByte { file, line } => write!(
                f,
                "{file}:{line}: NUL byte: libxlutil cannot read a file containing one"
            ),
            XlError::InteriorNul { what, text } => {
                write!(f, "{what} contains a NUL byte: {text:?}")
            }
            XlError::TooLarge { file, len } => write!(
                f,
                "{file}: {len} bytes is too large for libxlutil (at most 2147483647)"
            ),
            XlError::UnknownNicType { name, code } => write!(
                f,
                "unknown NIC type `{name}` (libxl error {code}; known: unknown, vif_ioemu, vif)"
            ),
            XlError::System(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for XlError {}

fn c_string(what: &'static str, text: &str) -> Result<CString, XlError> {
    CString::new(text).map_err(|_| XlError::InteriorNul {
        what,
        text: text.to_owned(),
    })
}

fn last_os_error(what: &str) -> XlError {
    XlError::System(format!("{what}: {}", std::io::Error::last_os_error()))
}

// ---------------------------------------------------------------------------------------
// The report stream
// ---------------------------------------------------------------------------------------

/// An in-memory `FILE *` libxlutil writes its messages to.
struct Report {
    stream: NonNull<libc::FILE>,
    /// Where `open_memstream` keeps the buffer's address; freed in `Drop`.
    buf: NonNull<*mut c_char>,
    /// Where `open_memstream` keeps the buffer's length; freed in `Drop`.
    len: NonNull<libc::size_t>,
    /// How much of the text [`Report::take_new`] has already returned.
    seen: Cell<usize>,
}

impl Report {
    fn new() -> Result<Report, XlError> {
        let buf = NonNull::from(Box::leak(Box::new(ptr::null_mut::<c_char>())));
        let len = NonNull::from(Box::leak(Box::new(0 as libc::size_t)));
        // SAFETY: `buf` and `len` point to live, writable cells that stay where they are
        // until `Drop` (or the error path below) frees them, after the stream is closed.
        let stream = unsafe { libc::open_memstream(buf.as_ptr(), len.as_ptr()) };
        match NonNull::new(stream) {
            Some(stream) => Ok(Report {
                stream,
                buf,
                len,
                seen: Cell::new(0),
            }),
            None => {
                let e = last_os_error("cannot open a memory stream for libxlutil's messages");
                // SAFETY: `buf` came from `Box::leak` above and nothing else refers to it
                // (the stream was not created).
                drop(unsafe { Box::from_raw(buf.as_ptr()) });
                // SAFETY: as for `buf`: leaked above, never shared.
                drop(unsafe { Box::from_raw(len.as_ptr()) });
                Err(e)
            }
        }
    }

    fn file(&self) -> *mut libc::FILE {
        self.stream.as_ptr()
    }

    /// A copy of everything written so far.
    fn bytes(&self) -> Vec<u8> {
        // SAFETY: the stream is open; flushing makes `*buf` and `*len` describe the text
        // written so far (the open_memstream contract).
        unsafe { libc::fflush(self.stream.as_ptr()) };
        // SAFETY: `buf` is the live cell given to open_memstream, written by it only
        // while the stream is written to, which cannot happen during this call.
        let data = unsafe { *self.buf.as_ptr() };
        // SAFETY: as for `buf`: the live length cell of the same stream.
        let len = unsafe { *self.len.as_ptr() };
        if data.is_null() || len == 0 {
            Vec::new()
        } else {
            // SAFETY: after the flush, a non-null `*buf` points to `*len` readable bytes
            // (the open_memstream contract); they are copied out at once.
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec()
        }
    }

    /// Everything written so far, as text.
    fn text(&self) -> String {
        printable(&self.bytes())
    }

    /// What was written since the last call, as text without the final newline.
    fn take_new(&self) -> String {
        let all = self.bytes();
        let from = self.seen.get().min(all.len());
        let new = printable(&all[from..]).trim_end_matches('\n').to_owned();
        self.seen.set(all.len());
        new
    }
}

/// libxlutil's messages quote the offending input as is: a CR (from a CRLF file) would
/// send the cursor back over the message. Control characters other than newline and tab
/// are shown as escapes (`\r`, `\x01`); invalid UTF-8 as U+FFFD.
fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

impl Drop for Report {
    fn drop(&mut self) {
        // SAFETY: the stream is open and no libxlutil config refers to it any more (a
        // `Config` destroys its `XLU_Config` before its report is dropped).
        unsafe { libc::fclose(self.stream.as_ptr()) };
        // SAFETY: `buf` is our live cell; after `fclose` it holds a malloc'd buffer (or
        // null) that nothing else owns.
        let data = unsafe { *self.buf.as_ptr() };
        // SAFETY: `data` is malloc'd by the stream (or null) and freed only here.
        unsafe { libc::free(data.cast()) };
        // SAFETY: `buf` came from `Box::leak` in `new` and the stream that wrote through
        // it is closed.
        drop(unsafe { Box::from_raw(self.buf.as_ptr()) });
        // SAFETY: as for `buf`.
        drop(unsafe { Box::from_raw(self.len.as_ptr()) });
    }
}

// ---------------------------------------------------------------------------------------
// Configs
// ---------------------------------------------------------------------------------------

/// A value as libxlutil stores it: a string (a quoted string with its escapes resolved,
/// or a number as written) or a list, which may nest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// A string's bytes (libxlutil keeps any byte but NUL; not necessarily UTF-8).
    String(Vec<u8>),
    /// A list's items.
    List(Vec<Value>),
}

impl Value {
    /// The bytes of a string, `None` for a list.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::String(s) => Some(s),
            Value::List(_) => None,
        }
    }

    /// The items of a list, `None` for a string.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            Value::String(_) => None,
        }
    }
}

/// An xl config file parsed by libxlutil. Owns the `XLU_Config` and its report stream;
/// dropping it frees both (and never panics).
///
/// libxlutil has no way to list the settings: ask for them by name. The last assignment
/// of a name wins, extended by the `+=` after it, as xl sees it.
pub struct Config {
    cfg: NonNull<ffi::XLU_Config>,
    report: Report,
    file: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config").field("file", &self.file).finish()
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: `cfg` came from `xlu_cfg_init` and is destroyed exactly once, here;
        // every borrow of its strings ended with the borrow of `self`. The report stream
        // it writes to is closed only afterwards (fields drop after this).
        unsafe { ffi::xlu_cfg_destroy(self.cfg.as_ptr()) };
    }
}

/// The line (from 1) of byte `at`.
fn line_of(bytes: &[u8], at: usize) -> u32 {
    let newlines = bytes[..at.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count();
    u32::try_from(newlines)
        .unwrap_or(u32::MAX)
        .saturating_add(1)
}

/// Parses an xl config file with libxlutil (`xlu_cfg_readdata`). `file_name` is the name
/// its messages show. A syntax error gives [`XlError::Rejected`] with libxlutil's report.
pub fn parse_config(bytes: &[u8], file_name: &str) -> Result<Config, XlError> {
    if let Some(at) = bytes.iter().position(|&b| b == 0) {
        return Err(XlError::NulByte {
            file: file_name.to_owned(),
            line: line_of(bytes, at),
        });
    }
    let length = c_int::try_from(bytes.len()).map_err(|_| XlError::TooLarge {
        file: file_name.to_owned(),
        len: bytes.len(),
    })?;
    let config = Config::empty(file_name)?;
    // SAFETY: `cfg` is a fresh config; `bytes` is readable for `length` bytes (libxlutil
    // copies them into its scanner buffer and keeps no pointer to them).
    let rc = unsafe {
        ffi::xlu_cfg_readdata(config.cfg.as_ptr(), bytes.as_ptr().cast::<c_char>(), length)
    };
    if rc != 0 {
        // libxlutil: after a failure the config may only be destroyed (which dropping
        // `config` does).
        return Err(config.rejected(rc));
    }
    Ok(config)
}

impl Config {
    /// A config with no settings, for calls that only need the report (rates).
    fn empty(file_name: &str) -> Result<Config, XlError> {
        let name = c_string("file name", file_name)?;
        let report = Report::new()?;
        // SAFETY: the report stream stays open until after `xlu_cfg_destroy` (see
        // `Drop for Config`); libxlutil copies the name.
        let cfg = unsafe { ffi::xlu_cfg_init(report.file(), name.as_ptr()) };
        let cfg = NonNull::new(cfg)
            .ok_or_else(|| XlError::System("libxlutil: out of memory".to_owned()))?;
        Ok(Config {
            cfg,
            report,
            file: file_name.to_owned(),
        })
    }

    fn rejected(&self, code: c_int) -> XlError {
        let mut message = self.report.take_new();
        if message.is_empty() {
            message = format!(
                "{}: libxlutil failed: {}",
                self.file,
                std::io::Error::from_raw_os_error(code)
            );
        }
        XlError::Rejected { code, message }
    }

    /// The file name messages show.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Everything libxlutil has reported about this config so far (warnings included).
    pub fn report(&self) -> String {
        self.report.text()
    }

    /// The string value of `name` (`None`: not set). A list is an
    /// [`XlError::WrongType`] carrying libxlutil's warning.
    pub fn get_string(&self, name: &str) -> Result<Option<&[u8]>, XlError> {
        let c_name = c_string("setting name", name)?;
        let mut value: *const c_char = ptr::null();
        // SAFETY: the config is parsed and alive; `value` is a valid out-pointer.
        let rc =
            unsafe { ffi::xlu_cfg_get_string(self.cfg.as_ptr(), c_name.as_ptr(), &mut value, 0) };
        match rc {
            0 if !value.is_null() => {
                // SAFETY: on success libxlutil points `value` at a NUL-terminated string
                // the config owns until it is destroyed, which `&self` outlives.
                Ok(Some(unsafe { CStr::from_ptr(value) }.to_bytes()))
            }
            libc::ESRCH => Ok(None),
            libc::EINVAL => Err(XlError::WrongType {
                name: name.to_owned(),
                message: self.report.take_new(),
            }),
            rc => Err(self.rejected(rc)),
        }
    }

    /// The list value of `name` (`None`: not set). A string is an
    /// [`XlError::WrongType`] carrying libxlutil's warning.
    pub fn get_list(&self, name: &str) -> Result<Option<List<'_>>, XlError> {
        let c_name = c_string("setting name", name)?;
        let mut list: *mut ffi::XLU_ConfigList = ptr::null_mut();
        let mut entries: c_int = 0;
        // SAFETY: the config is parsed and alive; both out-pointers are valid.
        let rc = unsafe {
            ffi::xlu_cfg_get_list(
                self.cfg.as_ptr(),
                c_name.as_ptr(),
                &mut list,
                &mut entries,
                0,
            )
        };
        match rc {
            0 => match NonNull::new(list) {
                Some(list) => Ok(Some(List {
                    config: self,
                    list,
                    len: usize::try_from(entries).unwrap_or(0),
                })),
                None => Err(self.rejected(libc::EINVAL)),
            },
            libc::ESRCH => Ok(None),
            libc::EINVAL => Err(XlError::WrongType {
                name: name.to_owned(),
                message: self.report.take_new(),
            }),
            rc => Err(self.rejected(rc)),
        }
    }

    /// The value of `name`, string or list, nested lists included (`None`: not set).
    pub fn get(&self, name: &str) -> Result<Option<Value>, XlError> {
        let c_name = c_string("setting name", name)?;
        let mut value: *const c_char = ptr::null();
        // SAFETY: as in `get_string`; `dont_warn` keeps the report clean when the
        // setting turns out to be a list.
        let rc =
            unsafe { ffi::xlu_cfg_get_string(self.cfg.as_ptr(), c_name.as_ptr(), &mut value, 1) };
        match rc {
            0 if !value.is_null() => {
                // SAFETY: as in `get_string`.
                let s = unsafe { CStr::from_ptr(value) }.to_bytes().to_vec();
                return Ok(Some(Value::String(s)));
            }
            libc::ESRCH => return Ok(None),
            libc::EINVAL => {}
            rc => return Err(self.rejected(rc)),
        }
        let mut list: *mut ffi::XLU_ConfigList = ptr::null_mut();
        // SAFETY: as in `get_list`; the entry count may be null.
        let rc = unsafe {
            ffi::xlu_cfg_get_list(
                self.cfg.as_ptr(),
                c_name.as_ptr(),
                &mut list,
                ptr::null_mut(),
                1,
            )
        };
        match (rc, NonNull::new(list)) {
            (0, Some(list)) => Ok(Some(self.read_list(list))),
            (0, None) => Err(self.rejected(libc::EINVAL)),
            (libc::ESRCH, _) => Ok(None),
            (rc, _) => Err(self.rejected(rc)),
        }
    }

    /// A list and every list inside it, without recursion (lists may nest thousands
    /// deep).
    fn read_list(&self, top: NonNull<ffi::XLU_ConfigList>) -> Value {
        let mut stack: Vec<(NonNull<ffi::XLU_ConfigList>, c_int, Vec<Value>)> =
            vec![(top, 0, Vec::new())];
        loop {
            let Some((list, index, items)) = stack.last_mut() else {
                return Value::List(Vec::new());
            };
            // SAFETY: `list` belongs to the live config; an index past the end gives
            // null.
            let item = unsafe { ffi::xlu_cfg_get_listitem2(list.as_ptr(), *index) };
            *index = index.saturating_add(1);
            let Some(item) = NonNull::new(item) else {
                let done = Value::List(std::mem::take(items));
                stack.pop();
                match stack.last_mut() {
                    Some((_, _, parent)) => parent.push(done),
                    None => return done,
                }
                continue;
            };
            // SAFETY: `item` is a value of the live config.
            let ty = unsafe { ffi::xlu_cfg_value_type(item.as_ptr()) };
            if ty == ffi::XLU_ConfigValueType_XLU_STRING {
                let mut s: *mut c_char = ptr::null_mut();
                // SAFETY: `item` is a string value of the live config; `s` is a valid
                // out-pointer.
                let rc = unsafe {
                    ffi::xlu_cfg_value_get_string(self.cfg.as_ptr(), item.as_ptr(), &mut s, 1)
                };
                let bytes = if rc == 0 && !s.is_null() {
                    // SAFETY: a NUL-terminated string owned by the live config.
                    unsafe { CStr::from_ptr(s) }.to_bytes().to_vec()
                } else {
                    Vec::new()
                };
                items.push(Value::String(bytes));
            } else {
                let mut inner: *mut ffi::XLU_ConfigList = ptr::null_mut();
                // SAFETY: `item` is a list value of the live config; `inner` is a valid
                // out-pointer.
                let rc = unsafe {
                    ffi::xlu_cfg_value_get_list(self.cfg.as_ptr(), item.as_ptr(), &mut inner, 1)
                };
                match NonNull::new(inner) {
                    Some(inner) if rc == 0 => stack.push((inner, 0, Vec::new())),
                    _ => items.push(Value::List(Vec::new())),
                }
            }
        }
    }

    /// Parses a vif `rate=` value with libxlutil, reporting under this config's name.
    /// See [`parse_rate`].
    pub fn parse_rate(&self, rate: &str) -> Result<(u64, u32), XlError> {
        let c_rate = c_string("rate", rate)?;
        let mut slot = MaybeUninit::<NicSlot>::zeroed();
        // `NicSlot` is `repr(C)` with the NIC first: the NIC is at its start.
        let nic = slot.as_mut_ptr().cast::<ffi::libxl_device_nic>();
        // SAFETY: `nic` points to zeroed, writable memory large enough for the NIC (with
        // spare room, see `NicSlot`).
        unsafe { ffi::libxl_device_nic_init(nic) };
        let _dispose = DisposeNic(nic);
        // SAFETY: errno is this thread's; clearing it is always allowed.
        unsafe { *errno_location() = 0 };
        // SAFETY: the config and its report stream are alive; libxlutil only reads
        // through `cfg` here (it takes a non-const pointer for no reason); `nic` was
        // initialised above.
        let rc = unsafe { ffi::xlu_vif_parse_rate(self.cfg.as_ptr(), c_rate.as_ptr(), nic) };
        if rc != 0 {
            return Err(self.rejected(rc));
        }
        // SAFETY: `nic` is initialised, aligned and not written by anyone while this
        // shared reference lives (libxlutil returned).
        let nic = unsafe { &*nic };
        let (bytes, usecs) = (nic.rate_bytes_per_interval, nic.rate_interval_usecs);
        Ok((bytes, usecs))
    }
}

/// The items of a list setting, as xl reads them.
#[derive(Debug, Clone, Copy)]
pub struct List<'c> {
    config: &'c Config,
    list: NonNull<ffi::XLU_ConfigList>,
    len: usize,
}

impl<'c> List<'c> {
    /// The number of items (strings and nested lists).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Item `index` if it is a string (`xlu_cfg_get_listitem`): `None` past the end and
    /// for a nested list, where xl stops reading a list.
    pub fn item(&self, index: usize) -> Option<&'c [u8]> {
        let index = c_int::try_from(index).ok()?;
        // SAFETY: the list belongs to the config borrowed for `'c`; out-of-range indexes
        // give null.
        let s = unsafe { ffi::xlu_cfg_get_listitem(self.list.as_ptr(), index) };
        if s.is_null() {
            None
        } else {
            // SAFETY: a NUL-terminated string owned by the config, alive for `'c`.
            Some(unsafe { CStr::from_ptr(s) }.to_bytes())
        }
    }

    /// Every item, nested lists included.
    pub fn values(&self) -> Vec<Value> {
        match self.config.read_list(self.list) {
            Value::List(items) => items,
            Value::String(_) => Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rates
// ---------------------------------------------------------------------------------------

/// A NIC with spare room after it: `libxl_device_nic_init` may write a larger structure
/// than the Xen 4.17 one declared here if the library is newer.
#[repr(C)]
struct NicSlot {
    nic: ffi::libxl_device_nic,
    spare: [u8; 1024],
}

/// Disposes a NIC when dropped.
struct DisposeNic(*mut ffi::libxl_device_nic);

impl Drop for DisposeNic {
    fn drop(&mut self) {
        // SAFETY: the NIC was initialised by `libxl_device_nic_init` and is disposed once;
        // its string fields are null or malloc'd by libxl.
        unsafe { ffi::libxl_device_nic_dispose(self.0) };
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn errno_location() -> *mut c_int {
    // SAFETY: always safe to call; returns this thread's errno.
    unsafe { libc::__errno_location() }
}

#[cfg(target_os = "freebsd")]
fn errno_location() -> *mut c_int {
    // SAFETY: always safe to call; returns this thread's errno.
    unsafe { libc::__error() }
}

#[cfg(target_os = "netbsd")]
fn errno_location() -> *mut c_int {
    // SAFETY: always safe to call; returns this thread's errno.
    unsafe { libc::__errno() }
}

/// Parses a vif `rate=` value (`RATE/s[@INTERVAL]`) with libxlutil's
/// `xlu_vif_parse_rate`: `(bytes per interval, interval in microseconds)`. Errors carry
/// libxlutil's message (``rate: config parsing error in vif: invalid rate in `10MB'``).
///
/// libxlutil reads numbers with `strtoull(.., 0)`: a leading `0` makes them octal.
pub fn parse_rate(rate: &str) -> Result<(u64, u32), XlError> {
    Config::empty("rate")?.parse_rate(rate)
}

// ---------------------------------------------------------------------------------------
// NIC types
// ---------------------------------------------------------------------------------------

/// libxl's NIC types (`libxl_nic_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NicType {
    /// `LIBXL_NIC_TYPE_UNKNOWN`: not set.
    Unknown,
    /// `LIBXL_NIC_TYPE_VIF_IOEMU`: an emulated NIC paired with a PV one (`type=ioemu`).
    VifIoemu,
    /// `LIBXL_NIC_TYPE_VIF`: a PV NIC only (`type=vif`).
    Vif,
}

impl NicType {
    /// Every NIC type.
    pub const ALL: [NicType; 3] = [NicType::Unknown, NicType::VifIoemu, NicType::Vif];

    /// The C value.
    pub fn to_raw(self) -> ffi::libxl_nic_type {
        match self {
            NicType::Unknown => ffi::libxl_nic_type_LIBXL_NIC_TYPE_UNKNOWN,
            NicType::VifIoemu => ffi::libxl_nic_type_LIBXL_NIC_TYPE_VIF_IOEMU,
            NicType::Vif => ffi::libxl_nic_type_LIBXL_NIC_TYPE_VIF,
        }
    }

    /// The type of a C value, `None` for a value libxl 4.17 does not define.
    pub fn from_raw(raw: ffi::libxl_nic_type) -> Option<NicType> {
        NicType::ALL.into_iter().find(|t| t.to_raw() == raw)
    }

    /// libxl's name of the type (`libxl_nic_type_to_string`): `unknown`, `vif_ioemu`,
    /// `vif`.
    pub fn name(self) -> &'static str {
        nic_type_to_string(self.to_raw()).unwrap_or(match self {
            NicType::Unknown => "unknown",
            NicType::VifIoemu => "vif_ioemu",
            NicType::Vif => "vif",
        })
    }

    /// The type libxl names `name`, ignoring case (`libxl_nic_type_from_string`).
    pub fn from_name(name: &str) -> Result<NicType, XlError> {
        let raw = nic_type_from_string(name)?;
        NicType::from_raw(raw).ok_or_else(|| XlError::UnknownNicType {
            name: name.to_owned(),
            code: 0,
        })
    }
}

/// `libxl_nic_type_to_string`: the name of a C NIC type value, `None` when libxl
/// defines none.
pub fn nic_type_to_string(raw: ffi::libxl_nic_type) -> Option<&'static str> {
    // SAFETY: libxl looks the value up in its static table; any value is allowed.
    let s = unsafe { ffi::libxl_nic_type_to_string(raw) };
    if s.is_null() {
        return None;
    }
    // SAFETY: a NUL-terminated string in libxl's static table: it lives as long as the
    // library, which is linked in (never unloaded).
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

/// `libxl_nic_type_from_string`: the C NIC type value libxl names `name` (any case).
pub fn nic_type_from_string(name: &str) -> Result<ffi::libxl_nic_type, XlError> {
    let c_name = c_string("NIC type", name)?;
    let mut raw: ffi::libxl_nic_type = 0;
    // SAFETY: `c_name` is NUL-terminated; `raw` is a valid out-pointer.
    let rc = unsafe { ffi::libxl_nic_type_from_string(c_name.as_ptr(), &mut raw) };
    if rc == 0 {
        Ok(raw)
    } else {
        Err(XlError::UnknownNicType {
            name: name.to_owned(),
            code: rc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_lists_and_nesting() {
        let c = parse_config(
            b"a = 'x'\nb = [ 'p', \"q\\tr\", [ 's', [] ], 7 ]\nn = 0x1f\nb += ['t']\n",
            "t.cfg",
        )
        .unwrap();
        assert_eq!(c.get_string("a").unwrap(), Some(&b"x"[..]));
        assert_eq!(c.get_string("n").unwrap(), Some(&b"0x1f"[..]));
        assert_eq!(c.get_string("zz").unwrap(), None);
        assert!(c.get("zz").unwrap().is_none());
        let s = |t: &str| Value::String(t.as_bytes().to_vec());
        assert_eq!(
            c.get("b").unwrap().unwrap(),
            Value::List(vec![
                s("p"),
                s("q\tr"),
                Value::List(vec![s("s"), Value::List(vec![])]),
                s("7"),
                s("t"),
            ])
        );
        let l = c.get_list("b").unwrap().unwrap();
        assert_eq!(l.len(), 5);
        assert!(!l.is_empty());
        assert_eq!(l.item(1), Some(&b"q\tr"[..]));
        assert_eq!(l.item(2), None, "a nested list is no string item");
        assert_eq!(l.item(4), Some(&b"t"[..]));
        assert_eq!(l.item(5), None);
        assert_eq!(l.values().len(), 5);
        assert!(c.report().is_empty());
    }

    #[test]
    fn wrong_types_carry_libxlutil_warnings() {
        let c = parse_config(b"a = 'x'\n\nb = ['y']\n", "w.cfg").unwrap();
        let e = c.get_list("a").unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.cfg:1: warning: parameter `a' is a single value but should be a list"
        );
        let e = c.get_string("b").unwrap_err();
        assert_eq!(
            e.to_string(),
            "w.cfg:3: warning: parameter `b' is a list but should be a single value"
        );
        assert!(matches!(e, XlError::WrongType { name, .. } if name == "b"));
        assert_eq!(c.file(), "w.cfg");
    }

    #[test]
    fn errors_carry_libxlutil_text() {
        let e = parse_config(b"a = 'x'\nb = [bridge=x]\n", "e.cfg").unwrap_err();
        match e {
            XlError::Rejected { code, message } => {
                assert_eq!(code, libc::EINVAL);
                assert!(
                    message.starts_with("e.cfg:2: config parsing error near `bridge"),
                    "{message}"
                );
            }
            e => panic!("{e:?}"),
        }
        let e = parse_config(b"a = 'x'\r\n", "crlf.cfg").unwrap_err();
        assert_eq!(
            e.to_string(),
            "crlf.cfg:1: config parsing error near `\\r': lexical error"
        );
    }

    #[test]
    fn nul_bytes_never_reach_libxlutil() {
        // A NUL inside a string would abort the process in libxlutil 4.17.
        let e = parse_config(b"a = 'x'\nb = 'y\0z'\n", "n.cfg").unwrap_err();
        assert_eq!(
            e,
            XlError::NulByte {
                file: "n.cfg".into(),
                line: 2
            }
        );
        assert!(matches!(
            parse_config(b"", "a\0b"),
            Err(XlError::InteriorNul { .. })
        ));
        let c = parse_config(b"", "empty.cfg").unwrap();
        assert!(matches!(c.get("a\0"), Err(XlError::InteriorNul { .. })));
        assert!(matches!(
            parse_rate("1\0B/s"),
            Err(XlError::InteriorNul { .. })
        ));
    }

    #[test]
    fn rates_follow_xen_vectors() {
        for s in ["2MB/s", "16Mb/s", "2000000B/s", "16000000b/s"] {
            assert_eq!(parse_rate(s), Ok((100_000, 50_000)), "{s}");
        }
        assert_eq!(parse_rate("10MB/s@1s"), Ok((10_000_000, 1_000_000)));
        assert_eq!(parse_rate("010MB/s"), Ok((400_000, 50_000)), "octal");
        let e = parse_rate("10MB").unwrap_err();
        assert_eq!(
            e.to_string(),
            "rate: config parsing error in vif: invalid rate in `10MB'"
        );
        assert!(matches!(e, XlError::Rejected { code, .. } if code == libc::EINVAL));
    }

    #[test]
    fn stale_errno_does_not_reject_a_valid_rate() {
        // SAFETY: this thread's errno.
        unsafe { *errno_location() = libc::ERANGE };
        assert_eq!(parse_rate("10MB/s"), Ok((500_000, 50_000)));
    }

    #[test]
    fn nic_type_names() {
        assert_eq!(NicType::Vif.name(), "vif");
        assert_eq!(NicType::VifIoemu.name(), "vif_ioemu");
        assert_eq!(NicType::Unknown.name(), "unknown");
        for t in NicType::ALL {
            assert_eq!(NicType::from_name(t.name()), Ok(t));
            assert_eq!(NicType::from_raw(t.to_raw()), Some(t));
        }
        assert_eq!(NicType::from_name("VIF_IOEMU"), Ok(NicType::VifIoemu));
        assert!(matches!(
            NicType::from_name("ioemu"),
            Err(XlError::UnknownNicType { .. })
        ));
        assert_eq!(nic_type_to_string(99), None);
        assert_eq!(NicType::from_raw(99), None);
    }
}
