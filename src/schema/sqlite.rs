//! Read a [`Schema`] from a SQLite connection: `sqlite_schema` for the
//! verbatim statements, `PRAGMA table_list` / `table_xinfo` /
//! `foreign_key_list` / `index_list` / `index_xinfo` for the structure, and
//! the lexer for what no pragma reports (CHECK constraints, AUTOINCREMENT,
//! deferrable foreign keys). Reads only; works on any schema.
//!
//! Objects SQLite itself maintains are not part of a schema a user wrote and
//! are left out by exact name: `sqlite_sequence` and `sqlite_stat1`…`4`.
//! rollproof's own `rollproof_provenance` table is left out too, and so are
//! the shadow tables of virtual tables, by SQLite's own word for them
//! (`PRAGMA table_list` type `shadow`): their virtual table creates and
//! writes them, and a row written into one directly corrupts its index.
//! Nothing else is skipped, whatever it is called.

use super::tokens::{Kind, Token, tokenize};
use super::{
    AutoFill, Check, Column, Dialect, ForeignKey, Index, IndexKey, Schema, Table, Trigger, Unique,
    View,
};
use rusqlite::Connection;

/// Tables SQLite creates and maintains itself, by exact name.
pub const SQLITE_INTERNAL_TABLES: &[&str] = &[
    "sqlite_sequence",
    "sqlite_stat1",
    "sqlite_stat2",
    "sqlite_stat3",
    "sqlite_stat4",
];

/// rollproof's own objects inside a surrogate or clone, by exact name.
pub const ROLLPROOF_TABLES: &[&str] = &["rollproof_provenance"];

/// True when `name` is a table this reader leaves out (exact match only).
pub fn is_excluded_table(name: &str) -> bool {
    SQLITE_INTERNAL_TABLES.contains(&name) || ROLLPROOF_TABLES.contains(&name)
}

/// Read the schema of the `main` database of `conn`.
pub fn read(conn: &Connection) -> rusqlite::Result<Schema> {
    let mut schema = Schema::new(Dialect::Sqlite);
    let mut stmt = conn.prepare(
        "SELECT type, name, tbl_name, sql FROM main.sqlite_schema
         ORDER BY type, name",
    )?;
    let rows: Vec<(String, String, String, Option<String>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let shadow = shadow_tables(conn)?;
    for (kind, name, tbl, sql) in rows {
        match (kind.as_str(), sql) {
            ("table", sql) if !is_excluded_table(&name) && !shadow.contains(&name) => {
                schema.tables.push(read_table(conn, &name, sql)?);
            }
            ("index", Some(sql)) => schema.indexes.push(read_index(conn, &name, &tbl, sql)?),
            ("view", Some(sql)) => schema.views.push(View {
                namespace: None,
                name,
                materialized: false,
                sql,
            }),
            ("trigger", Some(sql)) => schema.triggers.push(Trigger {
                namespace: None,
                name,
                table: tbl,
                sql,
            }),
            _ => {} // autoindexes (no sql) belong to their table's constraints
        }
    }
    Ok(schema)
}

/// The shadow tables of the `main` database's virtual tables, as SQLite
/// itself names them.
pub fn shadow_tables(conn: &Connection) -> rusqlite::Result<std::collections::BTreeSet<String>> {
    let mut st = conn
        .prepare("SELECT name FROM pragma_table_list WHERE schema = 'main' AND type = 'shadow'")?;
    st.query_map([], |r| r.get::<_, String>(0))?.collect()
}

/// Full-text modules whose tables rollproof fills through the virtual table
/// itself (any text in, SQLite builds the index); other modules' tables are
/// created empty.
pub const FILLABLE_MODULES: &[&str] = &["fts3", "fts4", "fts5"];

/// The user columns of a virtual table (hidden ones left out), when its
/// module is one rollproof fills.
fn virtual_columns(conn: &Connection, name: &str, module: &str) -> rusqlite::Result<Vec<Column>> {
    if !FILLABLE_MODULES.contains(&module.to_ascii_lowercase().as_str()) {
        return Ok(Vec::new());
    }
    let mut st = conn.prepare(&format!("PRAGMA main.table_xinfo({})", quote(name)))?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(6)?)))?;
    let mut columns = Vec::new();
    for row in rows {
        let (col, hidden) = row?;
        if hidden == 0 {
            columns.push(Column {
                name: col,
                sql_type: String::new(),
                not_null: false,
                default: None,
                auto: None,
                collation: None,
                generated: None,
            });
        }
    }
    Ok(columns)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn read_table(conn: &Connection, name: &str, sql: Option<String>) -> rusqlite::Result<Table> {
    let q = quote(name);
    let (without_rowid, strict) = conn
        .query_row(
            "SELECT wr, strict FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
            [name],
            |r| Ok((r.get::<_, bool>(0)?, r.get::<_, bool>(1)?)),
        )
        .unwrap_or((false, false));
    let body = sql.as_deref().map(parse_create_table).unwrap_or_default();
    let virtual_module = body.virtual_module.clone();
    let mut columns = Vec::new();
    let mut pk: Vec<(i64, String)> = Vec::new();
    if let Some(module) = &virtual_module {
        columns = virtual_columns(conn, name, module)?;
    } else {
        let mut st = conn.prepare(&format!("PRAGMA main.table_xinfo({q})"))?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let col: String = r.get(1)?;
            let hidden: i64 = r.get(6)?;
            let key: i64 = r.get(5)?;
            if key > 0 {
                pk.push((key, col.clone()));
            }
            columns.push(Column {
                generated: (hidden == 2 || hidden == 3)
                    .then(|| body.generated.get(&col).cloned().unwrap_or_default()),
                name: col,
                sql_type: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                not_null: r.get(3)?,
                default: r.get(4)?,
                auto: None,
                collation: None,
            });
        }
    }
    pk.sort();
    let primary_key: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
    if let [only] = primary_key.as_slice()
        && !without_rowid
        && let Some(c) = columns.iter_mut().find(|c| &c.name == only)
        && c.sql_type.eq_ignore_ascii_case("INTEGER")
    {
        c.auto = Some(if body.autoincrement {
            AutoFill::Autoincrement
        } else {
            AutoFill::RowidAlias
        });
    }
    let mut table = Table {
        namespace: None,
        name: name.to_string(),
        columns,
        primary_key,
        primary_key_name: None,
        uniques: Vec::new(),
        foreign_keys: Vec::new(),
        checks: body.checks,
        without_rowid,
        strict,
        virtual_module,
        sql,
    };
    if table.virtual_module.is_none() {
        table.foreign_keys = read_foreign_keys(conn, &table, &body.deferred)?;
        table.uniques = read_uniques(conn, name)?;
    }
    Ok(table)
}

fn read_foreign_keys(
    conn: &Connection,
    table: &Table,
    deferred: &[Vec<String>],
) -> rusqlite::Result<Vec<ForeignKey>> {
    let mut st = conn.prepare(&format!(
        "PRAGMA main.foreign_key_list({})",
        quote(&table.name)
    ))?;
    let mut rows = st.query([])?;
    let mut parts: Vec<FkPart> = Vec::new();
    while let Some(r) = rows.next()? {
        parts.push((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ));
    }
    parts.sort_by_key(|p| (p.0, p.1));
    let mut out: Vec<(i64, ForeignKey)> = Vec::new();
    for (id, _, parent, from, to, on_update, on_delete) in parts {
        if out.last().is_none_or(|(last, _)| *last != id) {
            out.push((
                id,
                ForeignKey {
                    name: None,
                    columns: Vec::new(),
                    ref_namespace: None,
                    ref_table: parent.clone(),
                    ref_columns: Vec::new(),
                    on_delete,
                    on_update,
                    deferrable: false,
                    initially_deferred: false,
                },
            ));
        }
        let fk = &mut out.last_mut().expect("pushed above").1;
        fk.columns.push(from);
        // A NULL `to` means the parent's primary key.
        fk.ref_columns.push(match to {
            Some(t) => t,
            None => parent_pk(conn, &parent, fk.ref_columns.len())?,
        });
    }
    // PRAGMA foreign_key_list numbers keys in reverse declaration order.
    let mut fks: Vec<ForeignKey> = out.into_iter().rev().map(|(_, fk)| fk).collect();
    for fk in &mut fks {
        if deferred.contains(&fk.columns) {
            fk.deferrable = true;
            fk.initially_deferred = true;
        }
    }
    Ok(fks)
}

/// One row of `PRAGMA foreign_key_list`: (id, seq, parent, from, to,
/// on_update, on_delete).
type FkPart = (i64, i64, String, String, Option<String>, String, String);

fn parent_pk(conn: &Connection, parent: &str, i: usize) -> rusqlite::Result<String> {
    let mut st = conn.prepare(&format!("PRAGMA main.table_info({})", quote(parent)))?;
    let mut keys: Vec<(i64, String)> = st
        .query_map([], |r| Ok((r.get::<_, i64>(5)?, r.get::<_, String>(1)?)))?
        .filter_map(Result::ok)
        .filter(|(k, _)| *k > 0)
        .collect();
    keys.sort();
    // A parent without a declared key is keyed by its rowid.
    Ok(keys
        .into_iter()
        .nth(i)
        .map(|(_, c)| c)
        .unwrap_or_else(|| "rowid".to_string()))
}

fn index_columns(conn: &Connection, index: &str) -> rusqlite::Result<Vec<Option<String>>> {
    let mut st = conn.prepare(&format!("PRAGMA main.index_xinfo({})", quote(index)))?;
    let mut rows = st.query([])?;
    let mut cols = Vec::new();
    while let Some(r) = rows.next()? {
        let is_key: bool = r.get(5)?;
        if is_key {
            // cid -2 is an expression part; its name is NULL.
            cols.push(r.get::<_, Option<String>>(2)?);
        }
    }
    Ok(cols)
}

fn read_uniques(conn: &Connection, table: &str) -> rusqlite::Result<Vec<Unique>> {
    let mut st = conn.prepare(&format!("PRAGMA main.index_list({})", quote(table)))?;
    let list: Vec<(i64, String, bool, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    // index_list is newest first; constraints were declared oldest first.
    for (_, name, unique, origin) in list.into_iter().rev() {
        if unique && origin == "u" {
            let columns = index_columns(conn, &name)?.into_iter().flatten().collect();
            out.push(Unique {
                name: None,
                columns,
            });
        }
    }
    Ok(out)
}

fn read_index(conn: &Connection, name: &str, table: &str, sql: String) -> rusqlite::Result<Index> {
    let unique = conn
        .query_row(
            &format!(
                "SELECT \"unique\" FROM pragma_index_list({}) WHERE name = ?1",
                quote_lit(table)
            ),
            [name],
            |r| r.get::<_, bool>(0),
        )
        .unwrap_or(false);
    // Expression parts have no name in index_xinfo: take their text from
    // the statement, part by part.
    let texts = key_texts(&sql);
    let columns = index_columns(conn, name)?
        .into_iter()
        .enumerate()
        .map(|(i, c)| match c {
            Some(c) => IndexKey::Column(c),
            None => IndexKey::Expr(texts.get(i).cloned().unwrap_or_default()),
        })
        .collect();
    Ok(Index {
        namespace: None,
        name: name.to_string(),
        table: table.to_string(),
        columns,
        unique,
        predicate: where_clause(&sql),
        sql: Some(sql),
    })
}

fn quote_lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The text after the top-level `WHERE` of a `CREATE INDEX` statement.
fn where_clause(sql: &str) -> Option<String> {
    let toks = tokenize(sql, Dialect::Sqlite).ok()?;
    let mut depth = 0i32;
    for t in &toks {
        match t.text {
            "(" if t.kind == Kind::Punct => depth += 1,
            ")" if t.kind == Kind::Punct => depth -= 1,
            _ if depth == 0 && t.is_word("WHERE") => {
                return Some(sql[t.start + t.text.len()..].trim().to_string());
            }
            _ => {}
        }
    }
    None
}

/// The key parts of a `CREATE INDEX … ON t (a, lower(b) DESC)` statement,
/// as text without their ASC/DESC.
fn key_texts(sql: &str) -> Vec<String> {
    let Ok(toks) = tokenize(sql, Dialect::Sqlite) else {
        return Vec::new();
    };
    let code: Vec<&Token<'_>> = toks.iter().filter(|t| t.is_code()).collect();
    let Some(on) = code.iter().position(|t| t.is_word("ON")) else {
        return Vec::new();
    };
    let Some(open) = code[on..]
        .iter()
        .position(|t| t.is_punct("("))
        .map(|i| i + on)
    else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = code[open].start + 1;
    for t in &code[open + 1..] {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") && depth > 0 {
            depth -= 1;
        } else if (t.is_punct(",") || t.is_punct(")")) && depth == 0 {
            let text = sql[start..t.start].trim();
            let text = ["ASC", "DESC"]
                .iter()
                .find_map(|w| {
                    let cut = text.len().checked_sub(w.len())?;
                    (text.get(cut..)?.eq_ignore_ascii_case(w)
                        && text[..cut].ends_with(char::is_whitespace))
                    .then(|| text[..cut].trim_end())
                })
                .unwrap_or(text);
            parts.push(text.to_string());
            if t.is_punct(")") {
                break;
            }
            start = t.start + 1;
        }
    }
    parts
}

/// What the lexer finds in a `CREATE TABLE` statement that no pragma says.
#[derive(Debug, Default, PartialEq)]
struct TableBody {
    checks: Vec<Check>,
    autoincrement: bool,
    /// Column lists of foreign keys declared `DEFERRABLE INITIALLY DEFERRED`.
    deferred: Vec<Vec<String>>,
    /// Generated column → its expression.
    generated: std::collections::BTreeMap<String, String>,
    virtual_module: Option<String>,
}

/// Split the parenthesised body of `CREATE TABLE` into its top-level
/// comma-separated definitions and read each.
fn parse_create_table(sql: &str) -> TableBody {
    let mut body = TableBody::default();
    let Ok(toks) = tokenize(sql, Dialect::Sqlite) else {
        return body;
    };
    let code: Vec<&Token<'_>> = toks.iter().filter(|t| t.is_code()).collect();
    if code.iter().take(3).any(|t| t.is_word("VIRTUAL")) {
        body.virtual_module = code
            .iter()
            .position(|t| t.is_word("USING"))
            .and_then(|i| code.get(i + 1))
            .map(|t| t.ident().to_ascii_lowercase());
        return body;
    }
    let Some(open) = code.iter().position(|t| t.is_punct("(")) else {
        return body;
    };
    let mut depth = 0usize;
    let mut part: Vec<&Token<'_>> = Vec::new();
    for t in &code[open + 1..] {
        match t.text {
            "(" if t.kind == Kind::Punct => depth += 1,
            ")" if t.kind == Kind::Punct && depth == 0 => {
                read_definition(sql, &part, &mut body);
                break;
            }
            ")" if t.kind == Kind::Punct => depth -= 1,
            "," if t.kind == Kind::Punct && depth == 0 => {
                read_definition(sql, &part, &mut body);
                part.clear();
                continue;
            }
            _ => {}
        }
        part.push(t);
    }
    body
}

const CONSTRAINT_WORDS: &[&str] = &["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

/// One column definition or table constraint.
fn read_definition(sql: &str, part: &[&Token<'_>], body: &mut TableBody) {
    let Some(first) = part.first() else { return };
    let column = (!CONSTRAINT_WORDS.iter().any(|w| first.is_word(w))).then(|| first.ident());
    let mut name: Option<String> = None;
    let mut i = 0;
    while i < part.len() {
        let t = part[i];
        if t.is_word("CONSTRAINT") {
            name = part.get(i + 1).map(|n| n.ident());
        } else if t.is_word("AUTOINCREMENT") {
            body.autoincrement = true;
        } else if (t.is_word("CHECK") || t.is_word("AS"))
            && let Some((expr, end)) = parenthesised(sql, part, i + 1)
        {
            if t.is_word("CHECK") {
                body.checks.push(Check {
                    name: name.take(),
                    column: column.clone(),
                    expr,
                });
            } else if let Some(c) = &column {
                body.generated.insert(c.clone(), expr);
            }
            i = end;
            continue;
        } else if t.is_word("DEFERRED") && i >= 2 && part[i - 1].is_word("INITIALLY") {
            body.deferred.push(fk_columns(part, column.as_deref()));
        }
        i += 1;
    }
}

/// The columns a foreign key in this definition is declared on.
fn fk_columns(part: &[&Token<'_>], column: Option<&str>) -> Vec<String> {
    if let Some(c) = column {
        return vec![c.to_string()];
    }
    let Some(open) = part.iter().position(|t| t.is_punct("(")) else {
        return Vec::new();
    };
    part[open + 1..]
        .iter()
        .take_while(|t| !t.is_punct(")"))
        .filter(|t| !t.is_punct(","))
        .map(|t| t.ident())
        .collect()
}

/// The text inside the parentheses opening at `part[i]`, and the index
/// after the closing one.
fn parenthesised(sql: &str, part: &[&Token<'_>], i: usize) -> Option<(String, usize)> {
    let open = part.get(i).filter(|t| t.is_punct("("))?;
    let mut depth = 0usize;
    for (j, t) in part.iter().enumerate().skip(i) {
        if t.is_punct("(") {
            depth += 1;
        } else if t.is_punct(")") {
            depth -= 1;
            if depth == 0 {
                let text = sql[open.start + 1..t.start].trim().to_string();
                return Some((text, j + 1));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(ddl: &str) -> Schema {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(ddl).unwrap();
        read(&c).unwrap()
    }

    #[test]
    fn reads_keys_checks_autoincrement_and_without_rowid() {
        let s = schema(
            "CREATE TABLE artist (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
             CREATE TABLE album (id INTEGER PRIMARY KEY, artist_id INTEGER NOT NULL REFERENCES artist,
               title TEXT CONSTRAINT title_len CHECK (length(title) > 0),
               parent INTEGER REFERENCES album(id) DEFERRABLE INITIALLY DEFERRED,
               CHECK (id <> parent));
             CREATE TABLE track_tag (track INTEGER, tag TEXT, note TEXT DEFAULT 'a,b',
               PRIMARY KEY (track, tag), UNIQUE (tag, track)) WITHOUT ROWID;
             CREATE INDEX album_title ON album(title) WHERE title IS NOT NULL;
             CREATE VIEW v AS SELECT * FROM album;
             CREATE TRIGGER tr AFTER DELETE ON artist BEGIN DELETE FROM album WHERE artist_id = old.id; END;",
        );
        let artist = s.table("artist").unwrap();
        assert_eq!(artist.columns[0].auto, Some(AutoFill::Autoincrement));
        assert_eq!(artist.uniques[0].columns, vec!["name"]);
        let album = s.table("album").unwrap();
        assert_eq!(album.columns[0].auto, Some(AutoFill::RowidAlias));
        assert_eq!(album.foreign_keys.len(), 2);
        assert_eq!(album.foreign_keys[0].ref_table, "artist");
        assert_eq!(album.foreign_keys[0].ref_columns, vec!["id"]);
        assert!(album.foreign_keys[1].is_self_reference(album));
        assert!(album.foreign_keys[1].initially_deferred);
        assert!(!album.foreign_keys[0].deferrable);
        assert_eq!(album.checks.len(), 2);
        assert_eq!(album.checks[0].name.as_deref(), Some("title_len"));
        assert_eq!(album.checks[0].column.as_deref(), Some("title"));
        assert_eq!(album.checks[1].expr, "id <> parent");
        let tt = s.table("track_tag").unwrap();
        assert!(tt.without_rowid);
        assert_eq!(tt.primary_key, vec!["track", "tag"]);
        assert_eq!(tt.columns[2].default.as_deref(), Some("'a,b'"));
        assert_eq!(s.indexes[0].predicate.as_deref(), Some("title IS NOT NULL"));
        assert_eq!(s.indexes[0].columns, vec![IndexKey::Column("title".into())]);
        assert_eq!((s.views.len(), s.triggers.len()), (1, 1));
    }

    #[test]
    fn expression_index_parts_keep_their_text() {
        let s = schema(
            "CREATE TABLE c (id INTEGER PRIMARY KEY, email TEXT, n INT);
             CREATE UNIQUE INDEX c_email ON c (lower(email) DESC, n, substr(email, 1, 2));",
        );
        assert_eq!(
            s.indexes[0].columns,
            vec![
                IndexKey::Expr("lower(email)".into()),
                IndexKey::Column("n".into()),
                IndexKey::Expr("substr(email, 1, 2)".into())
            ]
        );
        assert!(s.indexes[0].unique);
    }

    #[test]
    fn only_exact_internal_names_are_left_out() {
        let s = schema(
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT);
             INSERT INTO t DEFAULT VALUES; ANALYZE;
             CREATE TABLE sqlitexstat_evil (x); CREATE TABLE \"sqlite-stat evil\" (x);
             CREATE TABLE rollproof_provenance_x (x);",
        );
        let names: Vec<&str> = s.tables.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "rollproof_provenance_x",
                "sqlite-stat evil",
                "sqlitexstat_evil",
                "t"
            ]
        );
    }

    #[test]
    fn generated_columns_and_autoincrement_in_a_string_are_told_apart() {
        let s = schema(
            "CREATE TABLE g (id INTEGER PRIMARY KEY, a INT, b INT GENERATED ALWAYS AS (a * 2) STORED,
               note TEXT DEFAULT 'AUTOINCREMENT');",
        );
        let g = s.table("g").unwrap();
        assert_eq!(g.columns[0].auto, Some(AutoFill::RowidAlias));
        assert_eq!(g.columns[2].generated.as_deref(), Some("a * 2"));
    }
}
