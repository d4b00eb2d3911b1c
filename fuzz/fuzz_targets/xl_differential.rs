//! vifkit's xl config and rate parsers against Xen's libxlutil on the same input.
//!
//! Asserts: every disagreement is explained by the named known differences of
//! `xl_parser::differential` (the same classification the differential tests use), for the
//! input as an xl config, and as a vif `rate=` value: each `rate=` value inside it and,
//! for a short input, the whole input.
//!
//! libxlutil 4.17's parser leaks the values it had built when it meets a syntax error
//! (bison discards them without a destructor). Those leaks, and only those (allocations
//! by its internal value constructors), are suppressed for LeakSanitizer; a config the
//! wrapper failed to destroy would still be reported (its allocation comes from
//! `xlu_cfg_init`).
#![no_main]

use std::ffi::c_char;

use libfuzzer_sys::fuzz_target;
use xl_parser::differential::{classify_cfg, classify_rate, Verdict};

/// LeakSanitizer reads its built-in suppressions from this function.
#[no_mangle]
pub extern "C" fn __lsan_default_suppressions() -> *const c_char {
    c"leak:xlu__cfg_string_mk\nleak:xlu__cfgl_dequote\nleak:xlu__cfgl_strdup\nleak:xlu__cfg_list_mk\n"
        .as_ptr()
}

fn check_rate(rate: &str) {
    if let Verdict::Unexplained(u) = classify_rate(rate) {
        panic!("rate {rate:?}:\n{u}");
    }
}

fuzz_target!(|data: &[u8]| {
    if let Verdict::Unexplained(u) = classify_cfg(data) {
        panic!("{u}");
    }
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.len() <= 48 {
        check_rate(text);
    }
    for (at, _) in text.match_indices("rate=") {
        let value = &text[at + "rate=".len()..];
        let end = value
            .find([',', '\'', '"', '\n', ' '])
            .unwrap_or(value.len());
        check_rate(&value[..end]);
    }
});
