//! Rewriting one list setting of an xl config file, every other byte kept (for
//! `vifkit patch-cfg`).

use std::ops::Range;

use super::Config;

/// Appends `s` as a quoted xl string that parses back to exactly `s`.
fn push_quoted(out: &mut String, s: &str) {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    out.push(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c == '\x7f' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let v = c as u32 as usize;
                out.push_str("\\x");
                out.push(HEX[v >> 4] as char);
                out.push(HEX[v & 15] as char);
            }
            c => out.push(c),
        }
    }
    out.push(q);
}

/// Writes a list of quoted strings: `[ ]`, `[ 'a' ]`, or one item per line with the
/// later lines indented by `indent`.
fn render_list(items: &[&str], indent: &str, nl: &str) -> String {
    let mut out = String::with_capacity(4 + items.iter().map(|s| s.len() + 4).sum::<usize>());
    out.push('[');
    if items.is_empty() {
        out.push_str(" ]");
        return out;
    }
    out.push(' ');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
            out.push_str(nl);
            out.push_str(indent);
        }
        push_quoted(&mut out, item);
    }
    out.push_str(" ]");
    out
}

fn is_blank(s: &str) -> bool {
    s.bytes().all(|c| c == b' ' || c == b'\t')
}

/// Returns `src` with the setting `name` rewritten to the list of quoted strings `items`,
/// every other byte unchanged. `cfg` must be the result of parsing `src`.
///
/// - The value of the last `name = ...` is replaced; later `name += ...` statements are
///   removed (with their `;`, and with their line when nothing else is on it). If `name`
///   only has `+=` statements, the first becomes `name = [ ... ]` and the rest go.
/// - If `name` is not set, `name = [ ... ]` is appended on a new last line.
/// - Layout: `[ ]`, `[ 'a' ]`, or for two items or more one per line, aligned under the
///   first: `vif = [ 'a',` / `        'b' ]`. The file's line ending (CRLF or LF) is used.
/// - Each item is quoted (single quotes, or double quotes when it holds a `'` and no `"`)
///   and escaped so that the result parses back to exactly `items`.
pub fn splice_list(src: &str, cfg: &Config<'_>, name: &str, items: &[&str]) -> String {
    let nl = if src.contains("\r\n") { "\r\n" } else { "\n" };
    let idx: Vec<usize> = cfg
        .settings()
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == name)
        .map(|(i, _)| i)
        .collect();
    let Some(&first) = idx.first() else {
        let mut out = String::with_capacity(src.len() + name.len() + 16);
        out.push_str(src);
        if !src.is_empty() && !src.ends_with('\n') {
            out.push_str(nl);
        }
        out.push_str(name);
        out.push_str(" = ");
        let indent = " ".repeat(name.len() + 5);
        out.push_str(&render_list(items, &indent, nl));
        out.push_str(nl);
        return out;
    };
    let settings = cfg.settings();
    let target = idx
        .iter()
        .rev()
        .copied()
        .find(|&i| !settings[i].append)
        .unwrap_or(first);
    let mut edits: Vec<(Range<usize>, String)> = Vec::new();

    // The target: its value, and for a `+=` its operator too.
    let t = &settings[target];
    let (rstart, prefix) = if t.append {
        let op_at = src
            .get(t.span.start..t.value_span.start)
            .and_then(|s| s.find("+="))
            .map(|n| t.span.start + n);
        match op_at {
            Some(p) => (p, "= "),
            None => (t.value_span.start, ""),
        }
    } else {
        (t.value_span.start, "")
    };
    let line_start = src
        .get(..rstart)
        .and_then(|s| s.rfind('\n'))
        .map_or(0, |n| n + 1);
    let mut indent: String = src
        .get(line_start..rstart)
        .unwrap_or_default()
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    indent.push_str(&" ".repeat(prefix.len() + 2));
    let mut text = String::from(prefix);
    text.push_str(&render_list(items, &indent, nl));
    edits.push((rstart..t.value_span.end, text));

    // Later `+=` statements go.
    for &i in idx.iter().filter(|&&i| i > target) {
        let s = &settings[i];
        let (start, end) = (s.span.start, s.span.end);
        if src.get(start..end).is_none() {
            continue;
        }
        let b = src.as_bytes();
        let mut j = end;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        if b.get(j) == Some(&b';') {
            j += 1;
            while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
                j += 1;
            }
        }
        let ls = src[..start].rfind('\n').map_or(0, |n| n + 1);
        let newline_len = if src[j..].starts_with('\n') {
            Some(1)
        } else if src[j..].starts_with("\r\n") {
            Some(2)
        } else if j == src.len() {
            Some(0)
        } else {
            None
        };
        let range = match (is_blank(&src[ls..start]), newline_len) {
            (true, Some(n)) => ls..j + n,
            (false, Some(_)) => {
                let mut k = start;
                while k > ls && (b[k - 1] == b' ' || b[k - 1] == b'\t') {
                    k -= 1;
                }
                k..j
            }
            (_, None) => start..j,
        };
        edits.push((range, String::new()));
    }

    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for (range, text) in edits {
        if range.end > src.len()
            || range.start > range.end
            || !src.is_char_boundary(range.start)
            || !src.is_char_boundary(range.end)
        {
            continue;
        }
        if range.start < at {
            // Two removals may share the blanks between them: merge them.
            if text.is_empty() {
                at = at.max(range.end);
            }
            continue;
        }
        out.push_str(&src[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&src[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfg::parse;
    use crate::cfg::test_util::ok;

    fn splice(src: &str, name: &str, items: &[&str]) -> String {
        let c = ok(src);
        let out = splice_list(src, &c, name, items);
        let again = parse(&out, "out").unwrap_or_else(|e| panic!("{out:?}: {e}"));
        let got: Vec<String> = again
            .get_list(name)
            .unwrap()
            .unwrap()
            .iter()
            .map(|i| i.value.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, items, "{out:?}");
        out
    }

    #[test]
    fn splice_replaces_value_only() {
        let src = "# guest\nname = 'a' # n\nvif = [ 'old' ] # nics\n\nmemory = 512\n";
        let out = splice(src, "vif", &["new"]);
        assert_eq!(
            out,
            "# guest\nname = 'a' # n\nvif = [ 'new' ] # nics\n\nmemory = 512\n"
        );
        let out = splice(src, "vif", &["a", "b", "c"]);
        assert_eq!(
            out,
            "# guest\nname = 'a' # n\nvif = [ 'a',\n        'b',\n        'c' ] # nics\n\n\
             memory = 512\n"
        );
        let out = splice(src, "vif", &[]);
        assert_eq!(
            out,
            "# guest\nname = 'a' # n\nvif = [ ] # nics\n\nmemory = 512\n"
        );
        // Everything outside the value is byte-identical.
        let c = ok(src);
        let vs = c.setting("vif").unwrap().value_span.clone();
        let out = splice(src, "vif", &["x", "y"]);
        assert!(out.starts_with(&src[..vs.start]));
        assert!(out.ends_with(&src[vs.end..]));
    }

    #[test]
    fn splice_multiline_and_crlf() {
        let src = "a = 1\r\nvif = [ 'x',\r\n        'y', ]\r\nb = 2";
        let out = splice(src, "vif", &["p", "q"]);
        assert_eq!(out, "a = 1\r\nvif = [ 'p',\r\n        'q' ]\r\nb = 2");
        let src = "\tvif=['x']\n";
        let out = splice(src, "vif", &["p", "q"]);
        assert_eq!(out, "\tvif=[ 'p',\n\t      'q' ]\n");
    }

    #[test]
    fn splice_removes_later_appends() {
        let src = "vif = [ 'a' ]\nname = 'n'\n  vif += [ 'b' ]  \nvif += [ 'c' ]; x = 1\n\
                   y = 2; vif += ['d']\nz = 3; vif += ['e'] # keep\nvif += ['f'];\n# end\n";
        let out = splice(src, "vif", &["v0", "v1"]);
        assert_eq!(
            out,
            "vif = [ 'v0',\n        'v1' ]\nname = 'n'\nx = 1\ny = 2;\nz = 3; # keep\n# end\n"
        );
        // Appends before the last `=` stay (they are overridden anyway).
        let src = "vif += ['a']\nvif = ['b']\nvif += ['c']";
        let out = splice(src, "vif", &["z"]);
        assert_eq!(out, "vif += ['a']\nvif = [ 'z' ]\n");
        // Only `+=`: the first becomes `=`.
        let src = "vif += ['a'] # one\nvif += ['b']\r\n";
        let out = splice(src, "vif", &["z", "y"]);
        assert_eq!(out, "vif = [ 'z',\r\n        'y' ] # one\n");
        // Last statement without a newline, on the line of another.
        let src = "vif = ['a']; vif += ['b']";
        assert_eq!(splice(src, "vif", &["z"]), "vif = [ 'z' ];");
    }

    #[test]
    fn splice_appends_when_absent() {
        assert_eq!(splice("", "vif", &["a"]), "vif = [ 'a' ]\n");
        assert_eq!(
            splice("name = 'x'", "vif", &["a", "b"]),
            "name = 'x'\nvif = [ 'a',\n        'b' ]\n"
        );
        assert_eq!(
            splice("name = 'x'\r\n# end", "vif", &[]),
            "name = 'x'\r\n# end\r\nvif = [ ]\r\n"
        );
        assert_eq!(
            splice("name = 'x'\n", "vif", &["a"]),
            "name = 'x'\nvif = [ 'a' ]\n"
        );
    }

    #[test]
    fn splice_quotes_round_trip() {
        let nasty = [
            "it's",
            "say \"hi\"",
            "both ' and \"",
            "back\\slash",
            "tab\tnl\ncr\rbell\x07\x08\x0b\x0c",
            "nul\0del\x7f\x01",
            "é ü \u{2028}",
            "",
            "#not a comment; [x]",
        ];
        let out = splice("vif = []\n", "vif", &nasty);
        assert!(out.contains("\"it's\""));
        assert!(out.contains("'both \\' and \"'"));
    }

    proptest::proptest! {
        #[test]
        fn any_items_round_trip(items in proptest::collection::vec(".{0,12}", 0..5)) {
            let refs: Vec<&str> = items.iter().map(String::as_str).collect();
            let src = "a = 1\nvif = [ 'x' ] # c\nvif += [ 'y' ]\nb = 2\n";
            let c = parse(src, "p").unwrap();
            let out = splice_list(src, &c, "vif", &refs);
            let again = parse(&out, "p").unwrap();
            let got: Vec<String> = again.vifs().unwrap().items.iter().map(|i| i.spec.to_string()).collect();
            proptest::prop_assert_eq!(got, items);
            proptest::prop_assert!(out.starts_with("a = 1\nvif = "));
            proptest::prop_assert!(out.ends_with(" # c\nb = 2\n"));
        }
    }
}
