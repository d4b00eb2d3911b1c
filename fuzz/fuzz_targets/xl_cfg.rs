//! The xl config parser, its typed getters, and `splice_list` for `vif`.
//!
//! Asserts: for a config that parses, splicing a `vif` list into it gives text that parses
//! again and whose `vifs()` are exactly the items given. The items tried: the config's own
//! vifs, none, and a few lines of the input (arbitrary text: quotes, backslashes, controls).
#![no_main]

use libfuzzer_sys::fuzz_target;
use translator::cfg::{parse, parse_bytes, splice_list, Config};

fn check_splice(src: &str, cfg: &Config<'_>, items: &[&str]) {
    let out = splice_list(src, cfg, "vif", items);
    let again = match parse(&out, "spliced.cfg") {
        Ok(c) => c,
        Err(e) => panic!(
            "spliced config does not parse: {e}\n  items: {items:?}\n  source: {src:?}\n  \
             spliced: {out:?}"
        ),
    };
    let vifs = match again.vifs() {
        Ok(v) => v,
        Err(e) => panic!(
            "spliced config's vifs() fails: {e}\n  items: {items:?}\n  source: {src:?}\n  \
             spliced: {out:?}"
        ),
    };
    let got: Vec<&str> = vifs.items.iter().map(|i| &*i.spec).collect();
    assert_eq!(
        got, items,
        "spliced config's vifs differ from the items given\n  source: {src:?}\n  spliced: \
         {out:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(cfg) = parse_bytes(data, "fuzz.cfg") else {
        return;
    };
    let src = cfg.source();
    let _ = cfg.guest_type();
    let _ = cfg.name();
    let _ = cfg.vif_defaults();
    let own: Vec<String> = match cfg.vifs() {
        Ok(list) => list.items.iter().map(|i| i.spec.to_string()).collect(),
        Err(_) => Vec::new(),
    };
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    check_splice(src, &cfg, &own);
    check_splice(src, &cfg, &[]);
    let lines: Vec<&str> = src.split('\n').take(3).collect();
    check_splice(src, &cfg, &lines);
});
