//! A small JSON reader for `ovs-vsctl --format=json --data=json` output, and the OVSDB
//! datum forms inside it (`["set", [...]]`, `["map", [[k, v], ...]]`, `["uuid", "..."]`,
//! or a bare atom for a one-element set).
//!
//! Kept here rather than pulling in a JSON crate: the answers are small and only a few
//! shapes matter. Malformed input is an error, never a panic.

use std::collections::BTreeMap;

/// A JSON value. Numbers are kept only when they are integers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A number with a fraction or exponent (not used by the columns read here).
    Float,
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in order.
    Object(Vec<(String, Json)>),
}

/// Why `ovs-vsctl`'s answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON, at this byte offset.
    #[error("Malformed JSON at byte {0}")]
    Syntax(usize),
    /// Nested deeper than this reader allows.
    #[error("JSON nested too deeply")]
    TooDeep,
    /// JSON, but not the table or datum shape expected.
    #[error("Unexpected shape: {0}")]
    Shape(&'static str),
}

/// Deepest nesting accepted (OVSDB tables need 5 or 6).
const MAX_DEPTH: usize = 32;

/// Parses every JSON value in `text`, one after another (ovs-vsctl prints one table per
/// command, separated by newlines).
pub(crate) fn parse_all(text: &str) -> Result<Vec<Json>, ParseError> {
    let mut p = Parser {
        b: text.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.ws();
        if p.i >= p.b.len() {
            return Ok(out);
        }
        out.push(p.value(0)?);
    }
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn err(&self) -> ParseError {
        ParseError::Syntax(self.i)
    }

    fn eat(&mut self, c: u8) -> Result<(), ParseError> {
        self.ws();
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err())
        }
    }

    fn literal(&mut self, word: &[u8], v: Json) -> Result<Json, ParseError> {
        if self.b.get(self.i..self.i + word.len()) == Some(word) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.err())
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep);
        }
        self.ws();
        match self.b.get(self.i) {
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'"') => Ok(Json::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Json::Array(items));
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                loop {
                    self.ws();
                    if self.b.get(self.i) != Some(&b'"') {
                        return Err(self.err());
                    }
                    let k = self.string()?;
                    self.eat(b':')?;
                    let v = self.value(depth + 1)?;
                    members.push((k, v));
                    self.ws();
                    match self.b.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Json::Object(members));
                        }
                        _ => return Err(self.err()),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.err()),
        }
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.i;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let digits = self.i;
        while matches!(self.b.get(self.i), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        if self.i == digits {
            return Err(self.err());
        }
        let mut float = false;
        while matches!(
            self.b.get(self.i),
            Some(b'.' | b'e' | b'E' | b'+' | b'-' | b'0'..=b'9')
        ) {
            float = true;
            self.i += 1;
        }
        if float {
            return Ok(Json::Float);
        }
        // Only ASCII digits and '-' were consumed: valid UTF-8.
        let text =
            std::str::from_utf8(&self.b[start..self.i]).map_err(|_| ParseError::Syntax(start))?;
        text.parse()
            .map(Json::Int)
            .map_err(|_| ParseError::Syntax(start))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .b
                .get(self.i)
                .and_then(|&c| char::from(c).to_digit(16))
                .ok_or_else(|| self.err())?;
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        // At the opening quote.
        self.i += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.b.get(self.i) else {
                return Err(self.err());
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.b.get(self.i) else {
                        return Err(self.err());
                    };
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.b.get(self.i..self.i + 2) != Some(b"\\u") {
                                    return Err(self.err());
                                }
                                self.i += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.err());
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.err())?
                        }
                        _ => return Err(self.err()),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return Err(self.err()),
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.err())
    }
}

/// Writes `s` as a JSON string literal, which is also how OVSDB's command-line syntax
/// (`ovs-vsctl set ... key="value"`) reads a quoted string.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One table printed by `ovs-vsctl --format=json`: its rows, each as column name to
/// value.
pub(crate) fn table(v: &Json) -> Result<Vec<BTreeMap<&str, &Json>>, ParseError> {
    let Json::Object(members) = v else {
        return Err(ParseError::Shape("a table is not an object"));
    };
    let get = |k: &str| members.iter().find(|(n, _)| n == k).map(|(_, v)| v);
    let (Some(Json::Array(headings)), Some(Json::Array(data))) = (get("headings"), get("data"))
    else {
        return Err(ParseError::Shape("a table lacks headings or data"));
    };
    let names = headings
        .iter()
        .map(|h| match h {
            Json::Str(s) => Ok(s.as_str()),
            _ => Err(ParseError::Shape("a heading is not a string")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    data.iter()
        .map(|row| match row {
            Json::Array(cells) if cells.len() == names.len() => {
                Ok(names.iter().copied().zip(cells.iter()).collect())
            }
            _ => Err(ParseError::Shape("a row does not match the headings")),
        })
        .collect()
}

/// The atoms of an OVSDB set datum (a bare atom is a one-element set).
pub(crate) fn set(v: &Json) -> Result<&[Json], ParseError> {
    match v {
        Json::Array(a) if a.first() == Some(&Json::Str("set".into())) => match a.as_slice() {
            [_, Json::Array(items)] => Ok(items),
            _ => Err(ParseError::Shape("malformed set")),
        },
        other => Ok(std::slice::from_ref(other)),
    }
}

/// The integers of an OVSDB set of integers.
pub(crate) fn int_set(v: &Json) -> Result<Vec<i64>, ParseError> {
    set(v)?
        .iter()
        .map(|a| match a {
            Json::Int(i) => Ok(*i),
            _ => Err(ParseError::Shape("a set member is not an integer")),
        })
        .collect()
}

/// The strings of an OVSDB set of strings.
pub(crate) fn str_set(v: &Json) -> Result<Vec<&str>, ParseError> {
    set(v)?
        .iter()
        .map(|a| match a {
            Json::Str(s) => Ok(s.as_str()),
            _ => Err(ParseError::Shape("a set member is not a string")),
        })
        .collect()
}

/// The UUID strings of an OVSDB set of UUIDs.
pub(crate) fn uuid_set(v: &Json) -> Result<Vec<&str>, ParseError> {
    set(v)?
        .iter()
        .map(|a| match a {
            Json::Array(pair) => match pair.as_slice() {
                [Json::Str(tag), Json::Str(u)] if tag == "uuid" => Ok(u.as_str()),
                _ => Err(ParseError::Shape("malformed uuid")),
            },
            _ => Err(ParseError::Shape("a set member is not a uuid")),
        })
        .collect()
}

/// An OVSDB map of strings to strings.
pub(crate) fn str_map(v: &Json) -> Result<BTreeMap<String, String>, ParseError> {
    let Json::Array(a) = v else {
        return Err(ParseError::Shape("a map is not an array"));
    };
    let [Json::Str(tag), Json::Array(pairs)] = a.as_slice() else {
        return Err(ParseError::Shape("malformed map"));
    };
    if tag != "map" {
        return Err(ParseError::Shape("not a map"));
    }
    pairs
        .iter()
        .map(|p| match p {
            Json::Array(kv) => match kv.as_slice() {
                [Json::Str(k), Json::Str(v)] => Ok((k.clone(), v.clone())),
                _ => Err(ParseError::Shape("a map entry is not two strings")),
            },
            _ => Err(ParseError::Shape("a map entry is not a pair")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tables_printed_by_ovs_vsctl() {
        let text = r#"{"data":[[["uuid","27eba08a-bfd1-421a-870e-faa5671ed527"],"vif1.0",10,["set",[20,30]]]],"headings":["_uuid","name","tag","trunks"]}
{"data":[["br0",["uuid","b2376f53-2c1f-49ba-b656-22d036763731"]]],"headings":["name","ports"]}
{"data":[["vif1.0",["map",[["attached-mac","00:16:3e:00:00:01"],["xen-vm-name","a \"b\" \u00e9 \ud83d\ude00"]]]]],"headings":["name","external_ids"]}
"#;
        let all = parse_all(text).unwrap();
        assert_eq!(all.len(), 3);
        let ports = table(&all[0]).unwrap();
        assert_eq!(int_set(ports[0]["tag"]).unwrap(), vec![10]);
        assert_eq!(int_set(ports[0]["trunks"]).unwrap(), vec![20, 30]);
        assert_eq!(
            uuid_set(ports[0]["_uuid"]).unwrap(),
            vec!["27eba08a-bfd1-421a-870e-faa5671ed527"]
        );
        let bridges = table(&all[1]).unwrap();
        assert_eq!(str_set(bridges[0]["name"]).unwrap(), vec!["br0"]);
        assert_eq!(uuid_set(bridges[0]["ports"]).unwrap().len(), 1);
        let ifaces = table(&all[2]).unwrap();
        let ids = str_map(ifaces[0]["external_ids"]).unwrap();
        assert_eq!(ids["xen-vm-name"], "a \"b\" \u{e9} \u{1f600}");
        assert_eq!(
            int_set(&Json::Array(vec![
                Json::Str("set".into()),
                Json::Array(vec![])
            ]))
            .unwrap(),
            Vec::<i64>::new()
        );
    }

    #[test]
    fn quote_round_trips() {
        for s in [
            "",
            "plain",
            "a \"b\" \\ c",
            "tab\there\nnl",
            "\u{1}\u{1f}",
            "é😀",
        ] {
            let q = quote(s);
            assert_eq!(parse_all(&q).unwrap(), vec![Json::Str(s.to_owned())]);
        }
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            "{",
            "[1,",
            "\"abc",
            "[1 2]",
            "{\"a\" 1}",
            "tru",
            "-",
            "\"\\x\"",
            "\"\\ud800\"",
            "{\"a\":1,}",
            "\"\u{1}\"",
            "99999999999999999999",
        ] {
            assert!(parse_all(bad).is_err(), "{bad:?}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(parse_all(&deep), Err(ParseError::TooDeep));
        let not_table = parse_all("[1]").unwrap();
        assert!(table(&not_table[0]).is_err());
        let bad_rows = parse_all(r#"{"data":[[1,2]],"headings":["a"]}"#).unwrap();
        assert!(table(&bad_rows[0]).is_err());
        assert!(str_map(&Json::Int(1)).is_err());
        assert!(int_set(&Json::Str("x".into())).is_err());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_parses_or_errs_without_panicking(s in "\\PC*") {
            let _ = parse_all(&s);
        }

        #[test]
        fn json_like_text_parses_or_errs_without_panicking(s in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,64}") {
            if let Ok(vs) = parse_all(&s) {
                for v in &vs {
                    let _ = table(v);
                    let _ = str_map(v);
                    let _ = int_set(v);
                    let _ = uuid_set(v);
                }
            }
        }

        #[test]
        fn quoted_strings_round_trip(s in any::<String>()) {
            prop_assert_eq!(parse_all(&quote(&s)).unwrap(), vec![Json::Str(s)]);
        }
    }
}
