//! `rollproof hash` on any SQLite file (#14 §5, #17): no provenance needed,
//! nothing written, settings named and agreed by tools/logical_hash.py; a
//! file whose state is not all in the main file is refused, not mixed.

use super::*;

fn make(path: &Path, sql: &str) {
    let c = rusqlite::Connection::open(path).unwrap();
    c.execute_batch(sql).unwrap();
}

/// A schema rollproof never generated: views, triggers, a composite and a
/// self-referencing key, AUTOINCREMENT, WITHOUT ROWID, NULL-heavy columns.
const FOREIGN: &str = "
CREATE TABLE region(code TEXT NOT NULL, country TEXT NOT NULL, name TEXT, PRIMARY KEY (country, code)) WITHOUT ROWID;
CREATE TABLE staff(id INTEGER PRIMARY KEY AUTOINCREMENT, boss INTEGER REFERENCES staff(id), country TEXT, code TEXT,
                   note TEXT, FOREIGN KEY (country, code) REFERENCES region(country, code));
CREATE INDEX staff_boss ON staff(boss);
CREATE VIEW bosses AS SELECT DISTINCT b.* FROM staff s JOIN staff b ON b.id = s.boss;
CREATE TABLE audit(at INTEGER, what TEXT);
CREATE TRIGGER staff_audit AFTER INSERT ON staff BEGIN INSERT INTO audit VALUES (new.id, 'hired'); END;
INSERT INTO region VALUES ('B', 'FR', 'Bretagne'), ('N', 'FR', NULL);
INSERT INTO staff(boss, country, code, note) VALUES (NULL, 'FR', 'B', NULL), (1, 'FR', 'N', NULL), (1, NULL, NULL, 'x');
PRAGMA user_version = 12;
";

fn hash_json(w: &Work, files: &[&Path]) -> Vec<Value> {
    let mut args = vec!["hash", "--json"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    let o = w.run(&args);
    assert_success(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn any_sqlite_file_is_hashed_read_only_and_python_agrees() {
    let w = Work::new();
    let dir = w.path("dbs");
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("plain.db");
    make(&plain, FOREIGN);
    let wal = dir.join("wal.db");
    make(&wal, &format!("PRAGMA journal_mode = WAL; {FOREIGN}"));
    let utf16 = dir.join("utf16.db");
    make(&utf16, &format!("PRAGMA encoding = 'UTF-16le'; {FOREIGN}"));
    let big = dir.join("big.db");
    make(
        &big,
        &format!("PRAGMA page_size = 16384; PRAGMA auto_vacuum = INCREMENTAL; {FOREIGN}"),
    );
    let files = [&plain, &wal, &utf16, &big];
    let sums: Vec<String> = files.iter().map(|f| sha256_file(f)).collect();
    let before = listing(&dir);
    let refs: Vec<&Path> = files.iter().map(|f| f.as_path()).collect();
    let ours = hash_json(&w, &refs);
    // Nothing written: same bytes, no -wal or -shm created beside a WAL file.
    assert_eq!(listing(&dir), before);
    for (f, sum) in files.iter().zip(&sums) {
        assert_eq!(&sha256_file(f), sum);
    }
    let names: Vec<(&str, &str, Value)> = vec![
        (
            "journal_mode",
            "wal",
            ours[1]["logical"]["settings"]["journal_mode"].clone(),
        ),
        (
            "encoding",
            "UTF-16le",
            ours[2]["logical"]["settings"]["encoding"].clone(),
        ),
        (
            "page_size",
            "16384",
            ours[3]["logical"]["settings"]["page_size"].clone(),
        ),
        (
            "auto_vacuum",
            "2",
            ours[3]["logical"]["settings"]["auto_vacuum"].clone(),
        ),
    ];
    for (name, want, got) in names {
        assert_eq!(got.to_string().trim_matches('"'), want, "{name}");
    }
    // Same rows in all four; only the settings tell them apart.
    for h in &ours[1..] {
        assert_eq!(h["logical"]["tables"], ours[0]["logical"]["tables"]);
        assert_ne!(h["logical"]["sha256"], ours[0]["logical"]["sha256"]);
    }
    for (f, h) in files.iter().zip(&ours) {
        let py = python_logical(f);
        assert_eq!(py["sha256"], h["logical"]["sha256"], "{f:?}");
        assert_eq!(py["settings"], h["logical"]["settings"], "{f:?}");
        assert_eq!(py["tables"], h["logical"]["tables"], "{f:?}");
    }
    assert_eq!(listing(&dir), before, "python wrote nothing either");
}

#[test]
fn a_file_with_an_uncheckpointed_wal_is_refused_with_the_pragma_to_run() {
    let w = Work::new();
    let db = w.path("live.db");
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    // Keep the writer open: the committed rows live only in the -wal.
    let wal = w.path("live.db-wal");
    assert!(std::fs::metadata(&wal).unwrap().len() > 0);
    let sum = sha256_file(&db);
    let o = w.run(&["hash", db.to_str().unwrap()]);
    assert_code(&o, 2);
    let err = stderr(&o);
    assert!(err.contains("PRAGMA wal_checkpoint(TRUNCATE)"), "{err}");
    assert!(
        stdout(&o).is_empty(),
        "no digest of a mixed state: {}",
        stdout(&o)
    );
    assert_eq!(sha256_file(&db), sum);
    let py = Command::new("python3")
        .arg(repo_file("tools/logical_hash.py"))
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(py.status.code(), Some(2), "the python tool refuses it too");
    // After the checkpoint it is one state again, and hashable.
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let h = hash_json(&w, &[&db]);
    assert_eq!(h[0]["logical"]["tables"]["t"]["rows"], 1);
    drop(c);
}

#[test]
fn an_empty_file_or_a_foreign_file_is_not_a_database() {
    let w = Work::new();
    let empty = w.path("empty.db");
    std::fs::write(&empty, b"").unwrap();
    let o = w.run(&["hash", empty.to_str().unwrap()]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("empty"), "{}", stderr(&o));
    let text = w.path("notes.txt");
    std::fs::write(&text, vec![b'x'; 4096]).unwrap();
    let o = w.run(&["hash", text.to_str().unwrap(), "--json"]);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("not a SQLite database"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&empty).unwrap(), b"", "still empty");
}

/// One file per class of the logical state (#12 §1, §2, §4): each is the
/// base file plus exactly one thing. rollproof and tools/logical_hash.py
/// must agree on every one, and every one but `ANALYZE` must differ from
/// the base.
const CLASSES: &[(&str, &str)] = &[
    // §1: look-alike names are state; SQLite's own statistics are not.
    (
        "trigger named like the statistics",
        "CREATE TRIGGER sqlitexstat_evil AFTER INSERT ON staff BEGIN DELETE FROM staff WHERE id = new.id; END;",
    ),
    (
        "index in another case",
        "CREATE INDEX SQLITE0STAT_x ON staff(note);",
    ),
    (
        "quoted look-alike view",
        "CREATE VIEW \"sqlite-stat evil\" AS SELECT * FROM staff;",
    ),
    (
        "quoted look-alike table",
        "CREATE TABLE \"sqlite-stat evil\"(id, email);",
    ),
    ("analyze", "ANALYZE;"),
    // rollproof's own provenance record is state like any table.
    (
        "provenance table",
        "CREATE TABLE rollproof_provenance(k TEXT PRIMARY KEY, v TEXT); INSERT INTO rollproof_provenance VALUES ('a', 'b');",
    ),
    // §2: every persistent setting.
    ("application_id", "PRAGMA application_id = 7;"),
    ("user_version", "PRAGMA user_version = 13;"),
    ("page_size", "PRAGMA page_size = 8192; VACUUM;"),
    ("auto_vacuum", "PRAGMA auto_vacuum = FULL; VACUUM;"),
    ("journal_mode", "PRAGMA journal_mode = WAL;"),
    // §4: the first AUTOINCREMENT counter.
    (
        "sqlite_sequence",
        "CREATE TABLE refunds(id INTEGER PRIMARY KEY AUTOINCREMENT, amount INTEGER); INSERT INTO refunds(amount) VALUES (5);",
    ),
    // Free pages are reported, not hashed.
    (
        "free pages",
        "CREATE TABLE junk(x); INSERT INTO junk SELECT zeroblob(3000) FROM staff; DROP TABLE junk;",
    ),
];

#[test]
fn python_agrees_on_every_class_of_the_logical_state() {
    let w = Work::new();
    let dir = w.path("classes");
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("base.db");
    make(&base, FOREIGN);
    // The text encoding is set before anything is written: its own file.
    let utf16 = dir.join("encoding.db");
    make(&utf16, &format!("PRAGMA encoding = 'UTF-16be'; {FOREIGN}"));
    let mut files = vec![
        ("base".to_string(), base.clone()),
        ("encoding".into(), utf16),
    ];
    for (i, (name, sql)) in CLASSES.iter().enumerate() {
        let f = dir.join(format!("class{i}.db"));
        std::fs::copy(&base, &f).unwrap();
        make(&f, sql);
        // WAL: fold the log back so the main file is the whole state.
        let c = rusqlite::Connection::open(&f).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        drop(c);
        files.push((name.to_string(), f));
    }
    let refs: Vec<&Path> = files.iter().map(|(_, f)| f.as_path()).collect();
    let ours = hash_json(&w, &refs);
    let base_sha = ours[0]["logical"]["sha256"].clone();
    for ((name, f), h) in files.iter().zip(&ours) {
        let py = python_logical(f);
        for key in ["sha256", "schema_sha256", "settings", "tables"] {
            assert_eq!(py[key], h["logical"][key], "{name}: {key}");
        }
        assert_eq!(
            py["freelist_pages"], h["free_space"]["freelist_pages"],
            "{name}: freelist"
        );
        let same = matches!(name.as_str(), "base" | "analyze" | "free pages");
        assert_eq!(h["logical"]["sha256"] == base_sha, same, "{name}");
    }
    let free = files.iter().position(|(n, _)| n == "free pages").unwrap();
    assert!(ours[free]["free_space"]["freelist_pages"].as_u64() > Some(0));
}
