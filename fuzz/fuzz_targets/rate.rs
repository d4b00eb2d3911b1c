//! `rate=` values: `RATE/s[@INTERVAL]`.
//!
//! Asserts: an Ok rate's `to_string()` parses back to an equal `Rate`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use translator::rate::Rate;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(rate) = text.parse::<Rate>() else {
        return;
    };
    let shown = rate.to_string();
    match shown.parse::<Rate>() {
        Ok(back) => assert_eq!(back, rate, "{text:?} -> {shown:?} parses back different"),
        Err(e) => panic!("{text:?} -> {shown:?} does not parse back: {e}"),
    }
});
