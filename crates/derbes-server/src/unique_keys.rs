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

#[cfg(test)]
mod tests {
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
