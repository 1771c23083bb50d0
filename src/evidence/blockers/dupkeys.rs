//! Duplicate-key detection. `serde_json` keeps the last of two equal keys in
//! an object and silently drops the first; a blocker map read that way would
//! lose a value on write-back. This pass walks the raw JSON once and names the
//! first duplicated key by its JSON path, so the reader can refuse the map.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Where the first duplicate key sits (`table_F_final_blockers[2].category`).
pub(crate) fn first_duplicate_key(bytes: &[u8]) -> Result<Option<String>, serde_json::Error> {
    let mut found = None;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk {
        path: String::new(),
        found: &mut found,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// Join a key onto a JSON path (`a.b`, or just `b` at the top).
pub(crate) fn join_key(base: &str, key: &str) -> String {
    if base.is_empty() {
        key.to_string()
    } else {
        format!("{base}.{key}")
    }
}

struct Walk<'f> {
    path: String,
    found: &'f mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        loop {
            let seed = Walk {
                path: format!("{}[{i}]", self.path),
                found: &mut *self.found,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join_key(&self.path, &key);
            if !seen.insert(key) && self.found.is_none() {
                *self.found = Some(path.clone());
            }
            if self.found.is_some() {
                map.next_value::<IgnoredAny>()?;
            } else {
                map.next_value_seed(Walk {
                    path,
                    found: &mut *self.found,
                })?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_duplicate_with_its_path() {
        let j = br#"{"a": 1, "t": [{"x": 1}, {"y": 2, "y": 3}]}"#;
        assert_eq!(first_duplicate_key(j).unwrap().as_deref(), Some("t[1].y"));
        assert_eq!(
            first_duplicate_key(br#"{"a":1,"a":2}"#).unwrap().as_deref(),
            Some("a")
        );
    }

    #[test]
    fn clean_json_has_none_and_bad_json_errors() {
        assert_eq!(
            first_duplicate_key(br#"{"a": [1, {"b": null}]}"#).unwrap(),
            None
        );
        assert!(first_duplicate_key(b"{\"a\": ").is_err());
        assert!(first_duplicate_key(b"{} trailing").is_err());
    }
}
