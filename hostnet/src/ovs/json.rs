//! `ovs-vsctl --format=json --data=json` output, read with `serde_json`, and the OVSDB
//! datum forms inside it.
//!
//! serde_json reads the JSON; what it cannot know is OVSDB's encoding of a column's
//! value (RFC 7047, 5.1), which the helpers below decode from a [`Value`]:
//!
//! - a set is `["set", [atom, ...]]`, except that a one-element set is printed as the
//!   bare atom (so `10` and `["set", [20, 30]]` are both sets of integers, and
//!   `["set", []]` is the empty set: an unset optional column);
//! - a map is `["map", [[key, value], ...]]`;
//! - a UUID is `["uuid", "..."]`, so a set of UUIDs is an array of such pairs.
//!
//! Plain functions over `&Value` rather than serde derives: the datum forms are tagged
//! arrays, whose derive would be longer than these helpers, and each shape error keeps a
//! message of its own. Malformed input is an error, never a panic.

use std::collections::BTreeMap;

use serde_json::Value;

use super::error::ParseError;

/// Parses every JSON value in `text`, one after another (ovs-vsctl prints one table per
/// command, separated by newlines).
pub(crate) fn parse_all(text: &str) -> Result<Vec<Value>, ParseError> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| ParseError::Syntax(e.to_string()))
}

/// Writes `s` as a JSON string literal, which is also how OVSDB's command-line syntax
/// (`ovs-vsctl set ... key="value"`) reads a quoted string.
pub(crate) fn quote(s: &str) -> String {
    Value::from(s).to_string()
}

/// One table printed by `ovs-vsctl --format=json`
/// (`{"headings": [column, ...], "data": [[datum, ...], ...]}`): its rows, each as
/// column name to value.
pub(crate) fn table(v: &Value) -> Result<Vec<BTreeMap<&str, &Value>>, ParseError> {
    let Value::Object(members) = v else {
        return Err(ParseError::Shape("a table is not an object"));
    };
    let (Some(Value::Array(headings)), Some(Value::Array(data))) =
        (members.get("headings"), members.get("data"))
    else {
        return Err(ParseError::Shape("a table lacks headings or data"));
    };
    let names = headings
        .iter()
        .map(|h| {
            h.as_str()
                .ok_or(ParseError::Shape("a heading is not a string"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    data.iter()
        .map(|row| match row {
            Value::Array(cells) if cells.len() == names.len() => {
                Ok(names.iter().copied().zip(cells).collect())
            }
            _ => Err(ParseError::Shape("a row does not match the headings")),
        })
        .collect()
}

/// The atoms of an OVSDB set datum (a bare atom is a one-element set).
pub(crate) fn set(v: &Value) -> Result<&[Value], ParseError> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, rest @ ..]) if tag == "set" => match rest {
            [Value::Array(items)] => Ok(items),
            _ => Err(ParseError::Shape("malformed set")),
        },
        _ => Ok(std::slice::from_ref(v)),
    }
}

/// The integers of an OVSDB set of integers.
pub(crate) fn int_set(v: &Value) -> Result<Vec<i64>, ParseError> {
    set(v)?
        .iter()
        .map(|a| {
            a.as_i64()
                .ok_or(ParseError::Shape("a set member is not an integer"))
        })
        .collect()
}

/// The strings of an OVSDB set of strings.
pub(crate) fn str_set(v: &Value) -> Result<Vec<&str>, ParseError> {
    set(v)?
        .iter()
        .map(|a| {
            a.as_str()
                .ok_or(ParseError::Shape("a set member is not a string"))
        })
        .collect()
}

/// The UUID strings of an OVSDB set of UUIDs.
pub(crate) fn uuid_set(v: &Value) -> Result<Vec<&str>, ParseError> {
    set(v)?
        .iter()
        .map(|a| match a {
            Value::Array(pair) => match pair.as_slice() {
                [tag, Value::String(u)] if tag == "uuid" => Ok(u.as_str()),
                _ => Err(ParseError::Shape("malformed uuid")),
            },
            _ => Err(ParseError::Shape("a set member is not a uuid")),
        })
        .collect()
}

/// An OVSDB map of strings to strings.
pub(crate) fn str_map(v: &Value) -> Result<BTreeMap<String, String>, ParseError> {
    let Value::Array(a) = v else {
        return Err(ParseError::Shape("a map is not an array"));
    };
    let [Value::String(tag), Value::Array(pairs)] = a.as_slice() else {
        return Err(ParseError::Shape("malformed map"));
    };
    if tag != "map" {
        return Err(ParseError::Shape("not a map"));
    }
    pairs
        .iter()
        .map(|p| match p {
            Value::Array(kv) => match kv.as_slice() {
                [Value::String(k), Value::String(v)] => Ok((k.clone(), v.clone())),
                _ => Err(ParseError::Shape("a map entry is not two strings")),
            },
            _ => Err(ParseError::Shape("a map entry is not a pair")),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

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
        assert_eq!(int_set(&json!(["set", []])).unwrap(), Vec::<i64>::new());
        assert_eq!(parse_all(" \n").unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn quote_round_trips() {
        for s in [
            "",
            "plain",
            "a \"b\" \\ c",
            "tab\there\nnl",
            "\u{1}\u{1f}\u{7f}",
            "é😀",
        ] {
            let q = quote(s);
            assert_eq!(parse_all(&q).unwrap(), vec![Value::from(s)]);
        }
        assert_eq!(quote("a\"b\u{1}"), r#""a\"b\u0001""#);
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in ["{", "[1 2]", "{} x", "\"\\ud800\""] {
            assert!(
                matches!(parse_all(bad), Err(ParseError::Syntax(_))),
                "{bad:?}"
            );
        }
        assert!(table(&json!([1])).is_err());
        assert!(table(&json!({"data": [[1, 2]], "headings": ["a"]})).is_err());
        assert!(table(&json!({"data": [], "headings": [1]})).is_err());
        assert!(table(&json!({"headings": []})).is_err());
        assert!(set(&json!(["set", 1])).is_err());
        assert!(str_map(&json!(1)).is_err());
        assert!(str_map(&json!(["map", [["k", 1]]])).is_err());
        assert!(str_map(&json!(["set", []])).is_err());
        assert!(int_set(&json!("x")).is_err());
        assert!(int_set(&json!(1.5)).is_err());
        assert!(int_set(&json!(u64::MAX)).is_err());
        assert!(str_set(&json!(["set", ["a", 1]])).is_err());
        assert!(uuid_set(&json!(["uuid", 1])).is_err());
        assert!(uuid_set(&json!("not-a-uuid-pair")).is_err());
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn json_like_text_parses_or_errs_without_panicking(s in "[\\[\\]{}\",:0-9a-z\\\\ .eE+-]{0,64}") {
            if let Ok(vs) = parse_all(&s) {
                for v in &vs {
                    let _ = table(v);
                    let _ = str_map(v);
                    let _ = int_set(v);
                    let _ = str_set(v);
                    let _ = uuid_set(v);
                }
            }
        }

        #[test]
        fn quoted_strings_round_trip(s in any::<String>()) {
            prop_assert_eq!(parse_all(&quote(&s)).unwrap(), vec![Value::String(s)]);
        }
    }
}
