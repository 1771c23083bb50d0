//! The blocker map as an order-preserving JSON tree (`serde_json` with
//! `preserve_order`), plus typed, read-only views of the fields rollproof
//! understands. Every field of the wrong type is reported by its JSON path
//! (`table_F_final_blockers[3].blocker_id: expected a string, found a
//! number`); fields rollproof does not know are kept untouched.
//!
//! Written form (docs/BLOCKERS.md): `serde_json`'s pretty printer (two-space
//! indent, `": "` between key and value), key order as read, one trailing
//! newline. Reading that output and writing it again gives the same bytes.

use super::dupkeys::{first_duplicate_key, join_key};
use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The key holding the list of remaining blockers.
pub const TABLE: &str = "table_F_final_blockers";
/// The key on a blocker holding the proof evidence rollproof attached.
pub const EVIDENCE: &str = "evidence";

/// A map whose JSON is well-formed but not of the blocker-map shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct ShapeError {
    /// JSON path of the offending value (`open_count`,
    /// `table_F_final_blockers[2].category`); empty for the top level.
    pub at: String,
    /// What is wrong, in words.
    pub problem: String,
}

impl ShapeError {
    fn new(at: impl Into<String>, problem: impl Into<String>) -> Self {
        let at = at.into();
        ShapeError {
            at: if at.is_empty() {
                "(top level)".to_string()
            } else {
                at
            },
            problem: problem.into(),
        }
    }
}

/// Why a blocker map file could not be used. All of these are bad input.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    // The cause is part of the one-line message (not a `#[source]`), so
    // `{:#}` does not print it twice.
    #[error(transparent)]
    Read(#[from] crate::util::fsutil::InputError),
    #[error("{path} is not valid JSON: {cause}")]
    NotJson {
        path: PathBuf,
        cause: serde_json::Error,
    },
    #[error("{path}: {at}: {problem}")]
    Shape {
        path: PathBuf,
        at: String,
        problem: String,
    },
}

/// One proof evidence entry on a blocker, as `rollproof attach` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The report file, relative to the map's folder, `/`-separated.
    pub report: String,
    /// The report's seal (SHA-256 over its canonical JSON without the seal).
    pub seal: String,
    /// `PASS` or `FAIL`.
    pub verdict: String,
    /// `byte-exact` or `logical-only`.
    pub proof: String,
    /// The evidence leg (`surrogate`, `operator real-dump clone`).
    pub leg: String,
    /// SHA-256 of the surrogate (or clone) the rehearsal ran on.
    pub surrogate_sha256: String,
    /// The scenario that produced the report.
    pub scenario: String,
    /// When the rehearsal started (the report's `started_at`), UTC.
    pub rehearsed_at: String,
    /// The day the evidence was attached, `YYYY-MM-DD` (UTC).
    pub date: String,
}

/// A typed view of one entry of `table_F_final_blockers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    /// Position in `table_F_final_blockers`.
    pub index: usize,
    /// `blocker_id`.
    pub id: String,
    /// `category`, in the map's own words.
    pub category: String,
    /// `blocks`: what this blocker holds back.
    pub blocks: Vec<String>,
    /// `can_close_now`.
    pub can_close_now: bool,
    /// `closed_this_lane`; a blocker is open while this is false.
    pub closed_this_lane: bool,
    /// `item`: what the blocker is about.
    pub item: String,
    /// `next_action`.
    pub next_action: String,
    /// `remaining_actor_input`: who must act.
    pub remaining_actor_input: String,
    /// `evidence`: proof reports attached by rollproof (absent = none).
    pub evidence: Vec<Evidence>,
}

impl Blocker {
    /// Open until `closed_this_lane` says otherwise.
    pub fn is_open(&self) -> bool {
        !self.closed_this_lane
    }

    /// JSON path of this entry (`table_F_final_blockers[2]`).
    pub fn at(&self) -> String {
        format!("{TABLE}[{}]", self.index)
    }
}

/// A blocker map: the full JSON tree plus typed views of what rollproof
/// reads. Construct with [`BlockerMap::parse`] or [`BlockerMap::from_value`].
#[derive(Debug, Clone, PartialEq)]
pub struct BlockerMap {
    root: Map<String, Value>,
    /// `open_count`.
    pub open_count: u64,
    /// `engineering_blockers_remaining`.
    pub engineering_blockers_remaining: u64,
    /// `allowed_remaining_categories_check`: the map's declared terminal set.
    pub allowed_remaining_categories_check: String,
    /// `table_F_final_blockers`, in order.
    pub blockers: Vec<Blocker>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Typed access to one JSON object, reporting paths.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    at: String,
}

impl<'a> Obj<'a> {
    fn of(v: &'a Value, at: String, what: &str) -> Result<Obj<'a>, ShapeError> {
        match v {
            Value::Object(map) => Ok(Obj { map, at }),
            other => Err(ShapeError::new(
                at,
                format!("expected {what} (a JSON object), found {}", kind(other)),
            )),
        }
    }

    fn path(&self, key: &str) -> String {
        join_key(&self.at, key)
    }

    fn req(&self, key: &str) -> Result<&'a Value, ShapeError> {
        self.map
            .get(key)
            .ok_or_else(|| ShapeError::new(self.path(key), "required field is missing"))
    }

    fn wrong(&self, key: &str, want: &str, got: &Value) -> ShapeError {
        ShapeError::new(
            self.path(key),
            format!("expected {want}, found {}", kind(got)),
        )
    }

    fn string(&self, key: &str) -> Result<String, ShapeError> {
        let v = self.req(key)?;
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.wrong(key, "a string", v))
    }

    fn opt_string(&self, key: &str) -> Result<(), ShapeError> {
        match self.map.get(key) {
            None | Some(Value::String(_)) => Ok(()),
            Some(v) => Err(self.wrong(key, "a string", v)),
        }
    }

    fn boolean(&self, key: &str) -> Result<bool, ShapeError> {
        let v = self.req(key)?;
        v.as_bool()
            .ok_or_else(|| self.wrong(key, "true or false", v))
    }

    fn count(&self, key: &str) -> Result<u64, ShapeError> {
        let v = self.req(key)?;
        v.as_u64()
            .ok_or_else(|| self.wrong(key, "a non-negative integer", v))
    }

    fn array(&self, key: &str) -> Result<&'a Vec<Value>, ShapeError> {
        let v = self.req(key)?;
        v.as_array().ok_or_else(|| self.wrong(key, "an array", v))
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, ShapeError> {
        let mut out = Vec::new();
        for (i, v) in self.array(key)?.iter().enumerate() {
            match v.as_str() {
                Some(s) => out.push(s.to_string()),
                None => {
                    return Err(ShapeError::new(
                        format!("{}[{i}]", self.path(key)),
                        format!("expected a string, found {}", kind(v)),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// Top-level text fields the seed map has; optional, but strings when present.
const OPTIONAL_TOP_STRINGS: &[&str] = &["consequence", "date", "default", "doc", "macro"];
/// Blocker text fields the seed map has on some entries; strings when present.
const OPTIONAL_BLOCKER_STRINGS: &[&str] =
    &["status_note", "what_agent_tried", "why_not_self_resolvable"];

fn evidence_entry(v: &Value, at: String) -> Result<Evidence, ShapeError> {
    let o = Obj::of(v, at, "an evidence entry")?;
    Ok(Evidence {
        report: o.string("report")?,
        seal: o.string("seal")?,
        verdict: o.string("verdict")?,
        proof: o.string("proof")?,
        leg: o.string("leg")?,
        surrogate_sha256: o.string("surrogate_sha256")?,
        scenario: o.string("scenario")?,
        rehearsed_at: o.string("rehearsed_at")?,
        date: o.string("date")?,
    })
}

fn blocker(v: &Value, index: usize) -> Result<Blocker, ShapeError> {
    let o = Obj::of(v, format!("{TABLE}[{index}]"), "a blocker entry")?;
    for key in OPTIONAL_BLOCKER_STRINGS {
        o.opt_string(key)?;
    }
    let evidence = match o.map.get(EVIDENCE) {
        None => Vec::new(),
        Some(_) => o
            .array(EVIDENCE)?
            .iter()
            .enumerate()
            .map(|(i, e)| evidence_entry(e, format!("{}[{i}]", o.path(EVIDENCE))))
            .collect::<Result<_, _>>()?,
    };
    Ok(Blocker {
        index,
        id: o.string("blocker_id")?,
        category: o.string("category")?,
        blocks: o.strings("blocks")?,
        can_close_now: o.boolean("can_close_now")?,
        closed_this_lane: o.boolean("closed_this_lane")?,
        item: o.string("item")?,
        next_action: o.string("next_action")?,
        remaining_actor_input: o.string("remaining_actor_input")?,
        evidence,
    })
}

impl BlockerMap {
    /// Check the shape of a JSON tree and build the typed views.
    pub fn from_value(value: Value) -> Result<BlockerMap, ShapeError> {
        let o = Obj::of(&value, String::new(), "a blocker map")?;
        for key in OPTIONAL_TOP_STRINGS {
            o.opt_string(key)?;
        }
        if let Some(v) = o.map.get("production_contact")
            && !v.is_boolean()
        {
            return Err(o.wrong("production_contact", "true or false", v));
        }
        let open_count = o.count("open_count")?;
        let engineering_blockers_remaining = o.count("engineering_blockers_remaining")?;
        let allowed_remaining_categories_check = o.string("allowed_remaining_categories_check")?;
        let blockers = o
            .array(TABLE)?
            .iter()
            .enumerate()
            .map(|(i, b)| blocker(b, i))
            .collect::<Result<Vec<_>, _>>()?;
        let Value::Object(root) = value else {
            return Err(ShapeError::new(
                "",
                "expected a blocker map (a JSON object)",
            ));
        };
        Ok(BlockerMap {
            root,
            open_count,
            engineering_blockers_remaining,
            allowed_remaining_categories_check,
            blockers,
        })
    }

    /// Parse map bytes. A syntax error is [`ParseError::Json`], anything of
    /// the wrong shape [`ParseError::Shape`]. Duplicate keys are a shape
    /// error, since keeping either value would lose the other.
    pub fn parse(bytes: &[u8]) -> Result<BlockerMap, ParseError> {
        if let Some(at) = first_duplicate_key(bytes).map_err(ParseError::Json)? {
            return Err(ParseError::Shape(ShapeError::new(
                at,
                "key appears twice in the same object (one value would be lost)",
            )));
        }
        let value: Value = serde_json::from_slice(bytes).map_err(ParseError::Json)?;
        BlockerMap::from_value(value).map_err(ParseError::Shape)
    }

    /// Read and parse a map file; errors name the file.
    pub fn load(path: &Path) -> Result<(BlockerMap, Vec<u8>), MapError> {
        use crate::util::fsutil::{limit, read_bounded};
        let bytes = read_bounded(path, limit::MAP, "blocker map")?;
        match BlockerMap::parse(&bytes) {
            Ok(map) => Ok((map, bytes)),
            Err(ParseError::Json(cause)) => Err(MapError::NotJson {
                path: path.to_path_buf(),
                cause,
            }),
            Err(ParseError::Shape(e)) => Err(MapError::Shape {
                path: path.to_path_buf(),
                at: e.at,
                problem: e.problem,
            }),
        }
    }

    /// The whole JSON tree, as read (and as it will be written).
    pub fn value(&self) -> Value {
        Value::Object(self.root.clone())
    }

    /// A top-level field, as read (`default`, `date`, unknown fields).
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.root.get(key)
    }

    /// The blocker with `blocker_id == id` (the first, if ids repeat).
    pub fn blocker(&self, id: &str) -> Option<&Blocker> {
        self.blockers.iter().find(|b| b.id == id)
    }

    /// The map in its stable written form: pretty-printed, key order kept,
    /// one trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = pretty(&Value::Object(self.root.clone()));
        out.push(b'\n');
        out
    }

    /// Change the raw JSON of the map with `edit`, then re-check its shape
    /// so the typed views stay true to the tree.
    pub fn edit(
        &self,
        edit: impl FnOnce(&mut Map<String, Value>) -> Result<(), ShapeError>,
    ) -> Result<BlockerMap, ShapeError> {
        let mut root = self.root.clone();
        edit(&mut root)?;
        BlockerMap::from_value(Value::Object(root))
    }
}

/// Pretty JSON bytes. Serialising a `Value` to memory cannot fail (no I/O,
/// string keys only), so an error here is unreachable; fall back to the
/// compact form rather than panic.
fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_else(|_| v.to_string().into_bytes())
}

/// Why map bytes could not be parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Shape(ShapeError),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/final-blocker-map.json"
        ))
        .unwrap()
    }

    #[test]
    fn seed_map_reads_with_its_seven_open_blockers() {
        let m = BlockerMap::parse(&seed()).unwrap();
        assert_eq!(m.open_count, 7);
        assert_eq!(m.blockers.len(), 7);
        assert!(m.blockers.iter().all(Blocker::is_open));
        let b = m.blocker("FIX7-P0-DRYRUN-PROD-ROLLBACK-1").unwrap();
        assert_eq!(b.index, 2);
        assert_eq!(b.blocks, vec!["production"]);
    }

    #[test]
    fn written_form_is_a_fixed_point_and_keeps_every_value_and_key_order() {
        let original: Value = serde_json::from_slice(&seed()).unwrap();
        let once = BlockerMap::parse(&seed()).unwrap().to_bytes();
        // The seed is written on one line, so the first write re-lays it out
        // (docs/BLOCKERS.md); from then on the written form is a fixed point.
        assert_ne!(once, seed());
        let twice = BlockerMap::parse(&once).unwrap().to_bytes();
        assert_eq!(once, twice);
        let back: Value = serde_json::from_slice(&once).unwrap();
        assert_eq!(back, original);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&back), keys(&original));
        assert!(once.ends_with(b"}\n") && !once.ends_with(b"\n\n"));
    }

    #[test]
    fn unknown_fields_survive_in_place() {
        let j = br#"{"zeta": {"k": [1, 2.5, null]}, "open_count": 0,
            "engineering_blockers_remaining": 0,
            "allowed_remaining_categories_check": "x",
            "table_F_final_blockers": [], "alpha": "last"}"#;
        let out = BlockerMap::parse(j).unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&out).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys[0], "zeta");
        assert_eq!(keys[5], "alpha");
        assert_eq!(v["zeta"]["k"][1], 2.5);
    }

    #[test]
    fn wrong_types_name_their_json_path() {
        let mut v: Value = serde_json::from_slice(&seed()).unwrap();
        v[TABLE][3]["blocker_id"] = Value::from(17);
        let e = BlockerMap::from_value(v.clone()).unwrap_err();
        assert_eq!(e.at, "table_F_final_blockers[3].blocker_id");
        assert!(e.problem.contains("found a number"), "{e}");
        v[TABLE][3]["blocker_id"] = Value::from("X");
        v[TABLE][1]["blocks"][0] = Value::Bool(true);
        let e = BlockerMap::from_value(v.clone()).unwrap_err();
        assert_eq!(e.at, "table_F_final_blockers[1].blocks[0]");
        v.as_object_mut().unwrap().remove(TABLE);
        let e = BlockerMap::from_value(v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "table_F_final_blockers: required field is missing"
        );
    }

    #[test]
    fn duplicate_keys_are_refused_not_silently_merged() {
        let text = String::from_utf8(seed()).unwrap().replacen(
            "\"can_close_now\": false,",
            "\"can_close_now\": false, \"can_close_now\": true,",
            1,
        );
        match BlockerMap::parse(text.as_bytes()) {
            Err(ParseError::Shape(e)) => {
                assert_eq!(e.at, "table_F_final_blockers[0].can_close_now")
            }
            other => panic!("{other:?}"),
        }
    }
}
