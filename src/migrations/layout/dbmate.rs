//! dbmate: one file per migration, `<version>_<name>.sql` (version: the
//! leading digits; files are ordered by version as text, which for dbmate's
//! fixed-width timestamps is time order), holding an up section after a
//! line `-- migrate:up` and an optional down section after `-- migrate:down`.
//! A marker may carry options; `transaction:false` runs that section
//! outside a transaction (each section decides for itself). Statements
//! before `-- migrate:up` are refused, as dbmate refuses them. Other files
//! are ignored, as dbmate ignores them.

use super::{
    Down, LayoutError, Migration, classify_down, entries, invalid, order, read_text, script,
};
use crate::migrations::version;
use crate::schema::Dialect;
use std::path::Path;

/// The section a marker line opens, and its options: `-- migrate:up transaction:false`.
fn marker(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.strip_prefix("--")?.trim_start();
    if let Some(o) = rest.strip_prefix("migrate:up") {
        return Some(("up", o.trim()));
    }
    rest.strip_prefix("migrate:down")
        .map(|o| ("down", o.trim()))
}

/// True when `path` holds a `-- migrate:up` marker line (for detection).
pub(super) fn has_up_marker(path: &Path) -> bool {
    read_text(path).is_ok_and(|t| t.lines().any(|l| marker(l).is_some_and(|(s, _)| s == "up")))
}

/// `transaction:false` among a marker's options → false.
fn transaction(options: &str, path: &Path) -> Result<bool, LayoutError> {
    let mut tx = true;
    for opt in options.split_whitespace() {
        match opt.split_once(':') {
            Some(("transaction", "false")) => tx = false,
            Some(("transaction", "true")) => tx = true,
            _ => {
                return Err(invalid(
                    path,
                    format!("unknown dbmate option `{opt}` (dbmate knows transaction:true|false)"),
                ));
            }
        }
    }
    Ok(tx)
}

struct Section {
    kind: &'static str,
    options: String,
    marker_at: usize, // byte offset of the marker line
    start: usize,     // byte offset of the section's first line
    line: usize,      // its 1-based line number
}

pub(super) fn load(
    dir: &Path,
    dialect: Dialect,
) -> Result<(Vec<Migration>, Vec<String>), LayoutError> {
    let mut out = Vec::new();
    let mut ignored = Vec::new();
    for (name, path) in entries(dir)? {
        let Some((v, rest)) = name.split_once('_').filter(|(v, r)| {
            r.ends_with(".sql") && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
        }) else {
            ignored.push(name);
            continue;
        };
        if !path.is_file() {
            ignored.push(name);
            continue;
        }
        let text = read_text(&path)?;
        let mut sections: Vec<Section> = Vec::new();
        let mut offset = 0;
        for (i, line) in text.split_inclusive('\n').enumerate() {
            if let Some((kind, options)) = marker(line.trim_end()) {
                sections.push(Section {
                    kind,
                    options: options.to_string(),
                    marker_at: offset,
                    start: offset + line.len(),
                    line: i + 2,
                });
            }
            offset += line.len();
        }
        let kinds: Vec<&str> = sections.iter().map(|s| s.kind).collect();
        if !matches!(kinds.as_slice(), ["up"] | ["up", "down"]) {
            return Err(invalid(
                &path,
                format!(
                    "dbmate needs one `-- migrate:up` line, optionally followed by one `-- migrate:down` line (found: {})",
                    if kinds.is_empty() {
                        "none".to_string()
                    } else {
                        kinds.join(", ")
                    }
                ),
            ));
        }
        let head = &text[..sections[0].start];
        let head_code = head
            .lines()
            .filter(|l| marker(l).is_none())
            .collect::<Vec<_>>()
            .join("\n");
        if crate::schema::tokens::statements(&head_code, dialect).map_or(true, |s| !s.is_empty()) {
            return Err(invalid(
                &path,
                "statements before `-- migrate:up`; dbmate refuses statements outside the up and down sections",
            ));
        }
        let body = |i: usize| -> (String, usize) {
            // Up to the next marker line (not part of this section).
            let end = sections.get(i + 1).map_or(text.len(), |n| n.marker_at);
            (text[sections[i].start..end].to_string(), sections[i].line)
        };
        let (up_sql, up_line) = body(0);
        let up = script(
            &name,
            up_sql,
            up_line,
            transaction(&sections[0].options, &path)?,
        );
        let up = mark(up);
        let down = if sections.len() == 2 {
            let (sql, line) = body(1);
            classify_down(
                mark(script(
                    &name,
                    sql,
                    line,
                    transaction(&sections[1].options, &path)?,
                )),
                dialect,
            )
        } else {
            Down::Missing
        };
        let key = version::dbmate(v).ok_or_else(|| invalid(&path, "no version"))?;
        out.push(Migration {
            version: v.to_string(),
            name: rest.trim_end_matches(".sql").to_string(),
            key,
            up,
            down,
            files: vec![name.clone()],
        });
    }
    Ok((order(dir, out)?, ignored))
}

fn mark(mut s: super::Script) -> super::Script {
    if !s.transaction {
        s.no_transaction_marker = Some("transaction:false".into());
    }
    s
}

#[cfg(test)]
mod tests {
    use crate::migrations::layout::{Down, Layout, load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn sections_lines_and_transaction_options() {
        let d = folder(&[
            (
                "20240102000000_b.sql",
                "-- migrate:up transaction:false\nCREATE INDEX i ON t(x);\n\n-- migrate:down\n-- nothing\n",
            ),
            (
                "20240101000000_a.sql",
                "-- a comment first is fine\n-- migrate:up\nCREATE TABLE t(x);\n-- migrate:down\nDROP TABLE t;\n",
            ),
            ("20240103000000_c.sql", "-- migrate:up\nSELECT 1;\n"),
            ("schema.sql", "CREATE TABLE t(x);"),
        ]);
        let f = load(d.path(), None, Dialect::Sqlite).unwrap();
        assert_eq!(f.layout, Layout::Dbmate);
        let a = &f.migrations[0];
        assert_eq!(a.version, "20240101000000");
        assert_eq!(
            (a.up.sql.as_str(), a.up.first_line),
            ("CREATE TABLE t(x);\n", 3)
        );
        let Down::Sql(ad) = &a.down else {
            panic!("{:?}", a.down)
        };
        assert_eq!((ad.sql.as_str(), ad.first_line), ("DROP TABLE t;\n", 5));
        let b = &f.migrations[1];
        assert!(!b.up.transaction);
        assert!(matches!(b.down, Down::CommentOnly(ref s) if s.transaction));
        assert_eq!(f.migrations[2].down, Down::Missing);
        assert_eq!(f.ignored, vec!["schema.sql"]);
    }

    #[test]
    fn statements_outside_sections_and_bad_markers_are_refused() {
        let d = folder(&[("1_a.sql", "DROP TABLE x;\n-- migrate:up\nSELECT 1;\n")]);
        let e = load(d.path(), Some(Layout::Dbmate), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("statements before"), "{e}");
        let d = folder(&[("1_a.sql", "-- migrate:down\nSELECT 1;\n-- migrate:up\n")]);
        let e = load(d.path(), Some(Layout::Dbmate), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("found: down, up"), "{e}");
        let d = folder(&[("1_a.sql", "-- migrate:up tx:off\nSELECT 1;\n")]);
        let e = load(d.path(), Some(Layout::Dbmate), Dialect::Sqlite).unwrap_err();
        assert!(e.to_string().contains("unknown dbmate option"), "{e}");
    }
}
