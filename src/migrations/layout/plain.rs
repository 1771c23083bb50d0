//! rollproof's plain layout, for folders no tool owns: pairs
//! `<name>.up.sql` and `<name>.down.sql` (the down may be missing), run in
//! natural order of `<name>` (digit runs compare as numbers: `2_x` before
//! `10_x`), each script in its own transaction, foreign keys on, no
//! bookkeeping table. docs/MIGRATIONS.md documents it.

use super::{
    Down, LayoutError, Migration, classify_down, entries, invalid, order, read_text, script,
};
use crate::migrations::version;
use crate::schema::Dialect;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn load(
    dir: &Path,
    dialect: Dialect,
) -> Result<(Vec<Migration>, Vec<String>), LayoutError> {
    let mut pairs: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, path) in entries(dir)? {
        let up = name.strip_suffix(".up.sql");
        let down = name.strip_suffix(".down.sql");
        match (up.or(down), path.is_file()) {
            (Some(stem), true) if !stem.is_empty() => {
                let e = pairs.entry(stem.to_string()).or_default();
                if up.is_some() {
                    e.0 = Some(name.clone());
                } else {
                    e.1 = Some(name.clone());
                }
            }
            _ => ignored.push(name),
        }
    }
    let mut out = Vec::new();
    for (stem, (up, down)) in pairs {
        let Some(up) = up else {
            return Err(invalid(
                &dir.join(format!("{stem}.down.sql")),
                "a down script without its .up.sql",
            ));
        };
        let mut files = vec![up.clone()];
        let down = match down {
            Some(d) => {
                files.push(d.clone());
                classify_down(script(&d, read_text(&dir.join(&d))?, 1, true), dialect)
            }
            None => Down::Missing,
        };
        out.push(Migration {
            key: version::natural(&stem),
            version: stem.clone(),
            name: String::new(),
            up: script(&up, read_text(&dir.join(&up))?, 1, true),
            down,
            files,
        });
    }
    Ok((order(dir, out)?, ignored))
}

#[cfg(test)]
mod tests {
    use crate::migrations::layout::{Layout, load, tests::folder};
    use crate::schema::Dialect;

    #[test]
    fn natural_order() {
        let d = folder(&[
            ("10-c.up.sql", "x"),
            ("2-b.up.sql", "x"),
            ("2-b.down.sql", "y"),
            ("1-a.up.sql", "x"),
        ]);
        let f = load(d.path(), None, Dialect::Sqlite).unwrap();
        assert_eq!(f.layout, Layout::Plain);
        let v: Vec<&str> = f.migrations.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(v, ["1-a", "2-b", "10-c"]);
    }
}
