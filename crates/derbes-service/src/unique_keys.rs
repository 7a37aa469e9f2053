//! JSON objects whose keys must each appear once: a value given twice is a mistake or a trick
//! (a validator that reads the first and a store that keeps the last), refused with the key.

use indexmap::IndexMap;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// Deserializes an object into a map, refusing a key given twice.
pub fn deserialize<'de, D, V>(d: D) -> Result<IndexMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct Unique<V>(PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for Unique<V> {
        type Value = IndexMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object with each key once")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = IndexMap::with_capacity(map.size_hint().unwrap_or(0));
            while let Some((k, v)) = map.next_entry::<String, V>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "the key `{k}` is given twice; give each field once"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out)
        }
    }
    d.deserialize_map(Unique(PhantomData))
}

/// Parses JSON into a value, refusing an object, at any depth, that gives a key twice (a plain
/// `serde_json::Value` keeps the last silently).
pub fn value_from_slice(bytes: &[u8]) -> Result<serde_json::Value, serde_json::Error> {
    struct Strict(serde_json::Value);
    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(StrictVisitor).map(Strict)
        }
    }
    struct StrictVisitor;
    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = serde_json::Value;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON with each key of an object once")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(v.into())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(serde_json::Value::Null)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
            while let Some(Strict(v)) = seq.next_element()? {
                out.push(v);
            }
            Ok(out.into())
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = serde_json::Map::new();
            while let Some((k, Strict(v))) = map.next_entry::<String, Strict>()? {
                if out.contains_key(&k) {
                    return Err(serde::de::Error::custom(format!(
                        "the key `{k}` is given twice; give each key once"
                    )));
                }
                out.insert(k, v);
            }
            Ok(out.into())
        }
    }
    serde_json::from_slice::<Strict>(bytes).map(|s| s.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_key_given_twice_at_any_depth_is_refused() {
        let v = super::value_from_slice(br#"{"a": [1, {"b": "x"}], "c": null}"#).unwrap();
        assert_eq!(v, serde_json::json!({"a": [1, {"b": "x"}], "c": null}));
        for twice in [r#"{"a": 1, "a": 1}"#, r#"{"d": [{"b": 1, "b": 2}]}"#] {
            let e = super::value_from_slice(twice.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(e.contains("is given twice"), "{e}");
        }
    }

    #[derive(serde::Deserialize, Debug)]
    struct Holder {
        #[serde(deserialize_with = "super::deserialize")]
        fields: indexmap::IndexMap<String, String>,
    }

    #[test]
    fn a_key_given_twice_is_refused_and_named() {
        let ok: Holder = serde_json::from_str(r#"{"fields": {"a": "1", "b": "2"}}"#).unwrap();
        assert_eq!(ok.fields.len(), 2);
        let e = serde_json::from_str::<Holder>(r#"{"fields": {"iin": "1", "iin": "2"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("the key `iin` is given twice"), "{e}");
    }
}
