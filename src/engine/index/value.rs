//! Indexed values and their order-preserving encoding (docs/format.md "Index entries").
//!
//! An index orders entries by the value of one JSON field. The encoding makes byte order equal
//! value order, so index entries sort in the table like the values they index:
//!
//! | value   | bytes                                                             |
//! | ------- | ----------------------------------------------------------------- |
//! | null    | `01`                                                              |
//! | false   | `02`                                                              |
//! | true    | `03`                                                              |
//! | number  | `04` + 8 bytes big-endian of the f64, sign bit flipped for >= 0, all bits flipped for < 0 |
//! | string  | `05` + UTF-8 with each `00` written `00 ff`, then the terminator `00 01` |
//!
//! So null < false < true < numbers (ascending) < strings (byte order). Every encoding is
//! self-delimiting, so the primary key can follow it directly.

use serde_json::Value;

use crate::engine::error::{Error, Result};

const TAG_NULL: u8 = 0x01;
const TAG_FALSE: u8 = 0x02;
const TAG_TRUE: u8 = 0x03;
const TAG_NUMBER: u8 = 0x04;
const TAG_STRING: u8 = 0x05;
/// Inside a string, `00` is followed by `ff` (a literal zero byte) or `01` (the end).
const STRING_ZERO_ESCAPE: u8 = 0xff;
const STRING_END: u8 = 0x01;

/// A value an index can order by: a JSON scalar.
#[derive(Debug, Clone, PartialEq)]
pub enum IndexValue {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JSON number, as a double (integers beyond 2^53 lose precision, as in JS).
    Number(f64),
    /// A string.
    String(String),
}

impl IndexValue {
    /// The scalar in `value`, or `None` for arrays and objects (they are not indexed).
    #[must_use]
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(Self::Null),
            Value::Bool(b) => Some(Self::Bool(*b)),
            Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Self::Number),
            Value::String(s) => Some(Self::String(s.clone())),
            Value::Array(_) | Value::Object(_) => None,
        }
    }

    /// Parses a bound given as JSON text (the binding's form); only scalars are accepted.
    pub fn parse_bound(json: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::InvalidArgument(format!("an index bound must be a JSON scalar: {e}")))?;
        Self::from_json(&value)
            .ok_or_else(|| Error::InvalidArgument("an index bound must be a number, string, boolean or null".into()))
    }

    /// Appends the order-preserving encoding.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Null => out.push(TAG_NULL),
            Self::Bool(false) => out.push(TAG_FALSE),
            Self::Bool(true) => out.push(TAG_TRUE),
            Self::Number(n) => {
                out.push(TAG_NUMBER);
                out.extend_from_slice(&ordered_f64_bytes(*n));
            }
            Self::String(s) => {
                out.push(TAG_STRING);
                for &byte in s.as_bytes() {
                    out.push(byte);
                    if byte == 0 {
                        out.push(STRING_ZERO_ESCAPE);
                    }
                }
                out.extend_from_slice(&[0, STRING_END]);
            }
        }
    }

    /// The encoding as a new vector.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    /// Decodes one value from the front of `bytes`; returns it and the bytes after it.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<(Self, &[u8])> {
        let (&tag, rest) = bytes.split_first()?;
        match tag {
            TAG_NULL => Some((Self::Null, rest)),
            TAG_FALSE => Some((Self::Bool(false), rest)),
            TAG_TRUE => Some((Self::Bool(true), rest)),
            TAG_NUMBER => {
                let (head, rest) = rest.split_at_checked(8)?;
                Some((Self::Number(f64_from_ordered(head.try_into().ok()?)), rest))
            }
            TAG_STRING => decode_string(rest),
            _ => None,
        }
    }
}

fn decode_string(bytes: &[u8]) -> Option<(IndexValue, &[u8])> {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let byte = *bytes.get(i)?;
        if byte != 0 {
            out.push(byte);
            i += 1;
            continue;
        }
        match *bytes.get(i + 1)? {
            STRING_ZERO_ESCAPE => out.push(0),
            STRING_END => {
                let text = String::from_utf8(out).ok()?;
                return Some((IndexValue::String(text), bytes.get(i + 2..)?));
            }
            _ => return None,
        }
        i += 2;
    }
}

/// Big-endian bytes whose unsigned order is the numeric order of `n` (-0 sorts as 0).
#[allow(clippy::big_endian_bytes, reason = "big-endian is what makes byte order numeric order")]
fn ordered_f64_bytes(n: f64) -> [u8; 8] {
    let n = if n == 0.0 { 0.0 } else { n };
    let bits = n.to_bits();
    let flipped = if bits >> 63 == 1 { !bits } else { bits | (1 << 63) };
    flipped.to_be_bytes()
}

#[allow(clippy::big_endian_bytes, reason = "the inverse of ordered_f64_bytes")]
fn f64_from_ordered(bytes: [u8; 8]) -> f64 {
    let flipped = u64::from_be_bytes(bytes);
    let bits = if flipped >> 63 == 1 { flipped & !(1 << 63) } else { !flipped };
    f64::from_bits(bits)
}

/// The value at `path` (dotted: `meta.folder`) in the JSON document `bytes`, if the document
/// parses, the path exists and the value there is a scalar. Anything else is not indexed.
/// Walks the document once without building it: other fields are skipped, not allocated.
/// With a key repeated in one object, the last one counts (as in `JSON.parse`).
#[must_use]
pub fn extract(bytes: &[u8], path: &[String]) -> Option<IndexValue> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let found = serde::de::DeserializeSeed::deserialize(FieldSeed { path }, &mut de).ok()?;
    de.end().ok()?;
    found
}

/// Finds the scalar at `path` in the value being deserialized.
struct FieldSeed<'p> {
    path: &'p [String],
}

impl<'de> serde::de::DeserializeSeed<'de> for FieldSeed<'_> {
    type Value = Option<IndexValue>;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl FieldSeed<'_> {
    /// `value` when the path has been walked to its end, else nothing (a scalar has no fields).
    fn at_end(&self, value: IndexValue) -> Option<IndexValue> {
        self.path.is_empty().then_some(value)
    }
}

impl<'de> serde::de::Visitor<'de> for FieldSeed<'_> {
    type Value = Option<IndexValue>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
        Ok(self.at_end(IndexValue::Null))
    }

    fn visit_bool<E>(self, v: bool) -> std::result::Result<Self::Value, E> {
        Ok(self.at_end(IndexValue::Bool(v)))
    }

    #[allow(clippy::cast_precision_loss, reason = "JSON numbers are doubles, as in JS")]
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Self::Value, E> {
        Ok(self.at_end(IndexValue::Number(v as f64)))
    }

    #[allow(clippy::cast_precision_loss, reason = "JSON numbers are doubles, as in JS")]
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Self::Value, E> {
        Ok(self.at_end(IndexValue::Number(v as f64)))
    }

    fn visit_f64<E>(self, v: f64) -> std::result::Result<Self::Value, E> {
        Ok(if v.is_finite() { self.at_end(IndexValue::Number(v)) } else { None })
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
        Ok(if self.path.is_empty() { Some(IndexValue::String(v.to_owned())) } else { None })
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let Some((part, rest)) = self.path.split_first() else {
            while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            return Ok(None);
        };
        let mut found = None;
        while let Some(matches) = map.next_key_seed(KeyIs(part))? {
            if matches {
                found = map.next_value_seed(FieldSeed { path: rest })?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether an object key equals the wanted name, without allocating the key.
struct KeyIs<'p>(&'p str);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> std::result::Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl serde::de::Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, v: &str) -> std::result::Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use super::*;
    use proptest::prelude::*;

    fn value_strategy() -> impl Strategy<Value = IndexValue> {
        prop_oneof![
            Just(IndexValue::Null),
            any::<bool>().prop_map(IndexValue::Bool),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(IndexValue::Number),
            any::<i32>().prop_map(|i| IndexValue::Number(f64::from(i))),
            "[\\x00-\\x02a-c\u{e9}]{0,6}".prop_map(IndexValue::String),
        ]
    }

    fn rank(v: &IndexValue) -> u8 {
        match v {
            IndexValue::Null => 0,
            IndexValue::Bool(false) => 1,
            IndexValue::Bool(true) => 2,
            IndexValue::Number(_) => 3,
            IndexValue::String(_) => 4,
        }
    }

    fn natural(a: &IndexValue, b: &IndexValue) -> Ordering {
        match (a, b) {
            (IndexValue::Number(x), IndexValue::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
            (IndexValue::String(x), IndexValue::String(y)) => x.as_bytes().cmp(y.as_bytes()),
            _ => rank(a).cmp(&rank(b)),
        }
    }

    proptest! {
        #[test]
        fn byte_order_is_value_order(a in value_strategy(), b in value_strategy(), ka in proptest::collection::vec(any::<u8>(), 0..4), kb in proptest::collection::vec(any::<u8>(), 0..4)) {
            // With a primary key appended, entries with different values still sort by value.
            let mut ea = a.encode();
            let mut eb = b.encode();
            let order = natural(&a, &b);
            ea.extend_from_slice(&ka);
            eb.extend_from_slice(&kb);
            if order != Ordering::Equal {
                prop_assert_eq!(ea.cmp(&eb), order);
            }
        }

        #[test]
        fn decode_inverts_encode(a in value_strategy(), tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = a.encode();
            bytes.extend_from_slice(&tail);
            let (back, rest) = IndexValue::decode(&bytes).expect("decodes");
            prop_assert_eq!(rest, &tail[..]);
            match (&a, &back) {
                (IndexValue::Number(x), IndexValue::Number(y)) => prop_assert!(x == y),
                _ => prop_assert_eq!(&a, &back),
            }
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..24)) {
            let _ = IndexValue::decode(&bytes);
        }
    }

    #[test]
    fn fields_are_found_by_dotted_path_and_non_scalars_are_skipped() {
        let doc = br#"{"lastVisit": 17, "meta": {"folder": "work", "tags": ["a"]}, "n": null}"#;
        let path = |p: &str| p.split('.').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(extract(doc, &path("lastVisit")), Some(IndexValue::Number(17.0)));
        assert_eq!(extract(doc, &path("meta.folder")), Some(IndexValue::String("work".into())));
        assert_eq!(extract(doc, &path("n")), Some(IndexValue::Null));
        assert_eq!(extract(doc, &path("meta.tags")), None);
        assert_eq!(extract(doc, &path("meta")), None);
        assert_eq!(extract(doc, &path("missing")), None);
        assert_eq!(extract(doc, &path("lastVisit.deeper")), None);
        assert_eq!(extract(b"not json", &path("a")), None);
        assert_eq!(extract(b"[1,2]", &path("a")), None);
    }

    /// The reference: build the whole document, then walk it (last duplicate key wins).
    fn extract_by_value(bytes: &[u8], path: &[String]) -> Option<IndexValue> {
        let doc: Value = serde_json::from_slice(bytes).ok()?;
        let mut at = &doc;
        for part in path {
            at = at.as_object()?.get(part)?;
        }
        IndexValue::from_json(at)
    }

    fn json_strategy() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            any::<i16>().prop_map(|i| i.to_string()),
            Just("1.5e3".to_owned()),
            Just("18446744073709551615".to_owned()),
            "[a-c\\\\\"]{0,3}".prop_map(|s| format!("\"{s}\"")),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(("[ab]", inner), 0..4).prop_map(|v| {
                    let fields: Vec<String> = v.into_iter().map(|(k, x)| format!("\"{k}\":{x}")).collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn streaming_extraction_agrees_with_the_parsed_document(doc in json_strategy(), path in proptest::collection::vec("[ab]", 1..3), cut in any::<bool>()) {
            let bytes = if cut { &doc.as_bytes()[..doc.len() / 2] } else { doc.as_bytes() };
            prop_assert_eq!(extract(bytes, &path), extract_by_value(bytes, &path));
        }
    }

    #[test]
    fn negative_zero_sorts_as_zero() {
        assert_eq!(IndexValue::Number(-0.0).encode(), IndexValue::Number(0.0).encode());
        assert!(IndexValue::Number(-1.0).encode() < IndexValue::Number(0.0).encode());
        assert!(IndexValue::Number(f64::MAX).encode() < IndexValue::String(String::new()).encode());
    }
}
