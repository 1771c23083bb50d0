//! `rollproof intake --target-url` (#14 §5): a PostgreSQL database rollproof
//! never made (a view, a trigger function, a composite and a
//! self-referencing key, sequences, a CHECK) is taken in from a pg_dump file
//! (custom, and plain with pg_dump's own `\restrict` lines) and from a
//! read-only URL, as a new `rollproof_` clone with the same content. A
//! dump that reaches outside its clone fails and leaves nothing; a dump
//! with a secret is refused and its clone dropped.

use crate::util::*;
use rollproof::engine::postgres::cluster::find_program;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// Our own small shop schema (no third-party SQL), vendor style: it begins
/// by dropping what an earlier install left.
const SHOP: &str = "
DROP VIEW IF EXISTS order_sizes;
DROP TABLE IF EXISTS line;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS product;
DROP TABLE IF EXISTS category;
CREATE TABLE category(id serial PRIMARY KEY, parent int REFERENCES category(id), name text NOT NULL UNIQUE);
CREATE TABLE product(sku text PRIMARY KEY, category int REFERENCES category(id),
                     price numeric(10,2) CHECK (price >= 0), note text);
CREATE TABLE orders(id bigserial PRIMARY KEY, placed date NOT NULL DEFAULT '2026-01-01', total int NOT NULL DEFAULT 0);
CREATE TABLE line(order_id bigint REFERENCES orders(id), n int, sku text REFERENCES product(sku),
                  qty int NOT NULL, PRIMARY KEY (order_id, n));
CREATE FUNCTION bump_total() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE orders SET total = total + NEW.qty WHERE id = NEW.order_id; RETURN NEW; END $$;
CREATE TRIGGER line_total AFTER INSERT ON line FOR EACH ROW EXECUTE FUNCTION bump_total();
CREATE VIEW order_sizes AS SELECT order_id, sum(qty) AS items FROM line GROUP BY order_id;
INSERT INTO category(parent, name) VALUES (NULL, 'tools'), (1, 'saws'), (1, 'drills');
INSERT INTO product VALUES ('S-1', 2, 19.90, NULL), ('D-1', 3, 45.00, 'tab\there'), ('X-1', NULL, NULL, 'line\nbreak');
INSERT INTO orders(placed) VALUES ('2026-02-01'), ('2026-02-02');
INSERT INTO line VALUES (1, 1, 'S-1', 2), (1, 2, 'D-1', 1), (2, 1, 'S-1', 5);
";

/// A fresh database `name` (not a rollproof name) on the shared cluster,
/// built with `sql`.
fn foreign_db(name: &str, sql: &str) {
    let mut admin = connect("postgres");
    // One statement each: neither may run inside a transaction block.
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    connect(name).batch_execute(sql).unwrap();
}

fn pg_dump(db: &str, format: &str, file: &Path) {
    let mut cmd = Command::new(find_program("pg_dump").unwrap());
    if format == "plain" {
        // A plain dump replays as an unprivileged role: no OWNER TO / GRANT.
        cmd.args(["--no-owner", "--no-privileges"]);
    }
    let o = cmd
        .args([&format!("--format={format}"), "--file"])
        .arg(file)
        .args(["--dbname", &pg().url(db)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn hash(w: &Work, db: &str) -> Value {
    let o = w.run(&["hash", "--target-url", &pg().url(db), "--json"]);
    assert_success(&o);
    serde_json::from_slice(&o.stdout).unwrap()
}

fn exists(db: &str) -> bool {
    connect("postgres")
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
        .unwrap()
        .is_some()
}

/// The role the dump ran as is gone.
fn role_gone(r: &Value) {
    let role = r["replayed_as"].as_str().expect("replayed_as");
    assert!(role.starts_with("rollproof_r_"), "{role}");
    let n: i64 = connect("postgres")
        .query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1", &[&role])
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the intake role {role} was left behind");
}

/// Intake with --json; returns (output, report).
/// The SHOP schema in a database rollproof never made (`shop_<tag>_src`),
/// dumped with pg_dump (custom format) and taken in as `db`; the intake's
/// JSON.
fn take_in_shop(w: &Work, tag: &str, db: &str) -> Value {
    let src = format!("shop_{tag}_src");
    foreign_db(&src, SHOP);
    let dump = w.path(&format!("shop_{tag}.dump"));
    pg_dump(&src, "custom", &dump);
    let (o, r) = intake(
        w,
        &[
            dump.to_str().unwrap(),
            "--target-url",
            &pg().url(db),
            "--force",
        ],
    );
    assert_success(&o);
    r
}

fn intake(w: &Work, args: &[&str]) -> (std::process::Output, Value) {
    let mut all = vec!["intake"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = w.run(&all);
    let v = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    (o, v)
}

#[test]
fn a_foreign_database_is_taken_in_from_custom_and_plain_dumps_and_a_url() {
    let w = Work::new();
    foreign_db("shop_src", SHOP);
    let source = hash(&w, "shop_src");
    let custom = w.path("shop.dump");
    let plain = w.path("shop.sql");
    pg_dump("shop_src", "custom", &custom);
    pg_dump("shop_src", "plain", &plain);
    let text = std::fs::read_to_string(&plain).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("\\restrict ")),
        "pg_dump ≥ 15.14 writes \\restrict"
    );
    let dump_url = pg().url("shop_src");
    let cases: [(&str, Vec<&str>, &str); 3] = [
        (
            "rollproof_in_custom",
            vec![custom.to_str().unwrap()],
            "pg_dump custom",
        ),
        (
            "rollproof_in_plain",
            vec![plain.to_str().unwrap()],
            "pg_dump plain",
        ),
        ("rollproof_in_url", vec!["--from-url", &dump_url], "url"),
    ];
    for (db, src, format) in cases {
        let url = pg().url(db);
        let mut args = src.clone();
        args.extend(["--target-url", &url, "--force"]);
        let (o, r) = intake(&w, &args);
        assert_success(&o);
        assert_eq!(r["verdict"], "accepted", "{r}");
        assert_eq!(r["source_format"], format);
        assert_eq!(r["rehearsable"], serde_json::json!(["sql"]));
        assert_eq!(r["secrets"]["findings_total"], 0);
        assert!(
            r["secrets"]["values_scanned"].as_u64().unwrap() >= 10,
            "{r}"
        );
        // The same rows, table by table, as the source.
        let clone = hash(&w, db);
        for (table, digest) in source["logical"]["tables"].as_object().unwrap() {
            assert_eq!(
                &clone["logical"]["tables"][table], digest,
                "{format}: {table}"
            );
        }
        assert_eq!(r["logical_sha256"], clone["logical"]["sha256"]);
        // A rollproof database now: its provenance names the intake.
        let record: String = connect(db)
            .query_one("SELECT record FROM rollproof_meta.provenance", &[])
            .unwrap()
            .get(0);
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        assert_eq!(record["purpose"], "clone", "{record}");
        assert_eq!(record["dbname"], db, "{record}");
        role_gone(&r);
    }
    // The source was only read.
    assert_eq!(hash(&w, "shop_src")["logical"], source["logical"]);
}

#[test]
fn a_dump_that_reaches_outside_its_clone_fails_and_leaves_nothing() {
    let w = Work::new();
    let marker =
        std::env::temp_dir().join(format!("rollproof-intake-marker-{}", std::process::id()));
    let _ = std::fs::remove_file(&marker);
    for (name, tail) in [
        ("shell", format!("\\! touch {}", marker.display())),
        (
            "program",
            format!("COPY (SELECT 1) TO PROGRAM 'touch {}';", marker.display()),
        ),
        ("role", "CREATE ROLE intake_evil SUPERUSER;".to_string()),
        ("meta", "\\connect postgres".to_string()),
    ] {
        let script = w.path(&format!("{name}.sql"));
        std::fs::write(
            &script,
            format!("CREATE TABLE t(a int);\n{tail}\nINSERT INTO t VALUES (1);\n"),
        )
        .unwrap();
        let db = format!("rollproof_evil_{name}");
        let (o, _) = intake(
            &w,
            &[script.to_str().unwrap(), "--target-url", &pg().url(&db)],
        );
        assert_code(&o, 2);
        assert!(
            stderr(&o).contains("does not load"),
            "{name}: {}",
            stderr(&o)
        );
        assert!(!exists(&db), "{name}: the clone was dropped");
        assert!(!marker.exists(), "{name}: the dump ran a command");
    }
    let evil: i64 = connect("postgres")
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'intake_evil'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(evil, 0);
}

#[test]
fn a_dump_with_a_secret_is_refused_and_its_clone_dropped() {
    let w = Work::new();
    let bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    foreign_db(
        "shop_secret",
        &format!(
            "CREATE TABLE account(id int PRIMARY KEY, login text, pw text); INSERT INTO account VALUES (7, 'ann', '{bcrypt}');"
        ),
    );
    let dump = w.path("secret.dump");
    pg_dump("shop_secret", "custom", &dump);
    let (o, r) = intake(
        &w,
        &[
            dump.to_str().unwrap(),
            "--target-url",
            &pg().url("rollproof_in_secret"),
        ],
    );
    assert_code(&o, 3);
    assert_eq!(r["verdict"], "refused-secrets");
    let f = &r["secrets"]["findings"][0];
    assert_eq!(
        (f["table"].as_str(), f["column"].as_str(), f["row"].as_str()),
        (Some("public.account"), Some("pw"), Some("7"))
    );
    assert!(!exists("rollproof_in_secret"));
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains(&bcrypt[7..]), "{all}");
    role_gone(&r);
}

/// A sql scenario on PostgreSQL whose `[surrogate]` is only the `url` of an
/// existing rollproof database.
fn clone_scenario(
    w: &Work,
    name: &str,
    db: &str,
    up: &str,
    down: Option<&str>,
) -> std::path::PathBuf {
    std::fs::write(w.path(&format!("{name}.up.sql")), up).unwrap();
    let rollback = match down {
        Some(d) => {
            std::fs::write(w.path(&format!("{name}.down.sql")), d).unwrap();
            format!("[rollback]\nmethod = \"compensate\"\ndown = \"{name}.down.sql\"\n")
        }
        None => "[rollback]\nmethod = \"restore\"\n".to_string(),
    };
    let p = w.path(&format!("{name}.toml"));
    std::fs::write(
        &p,
        format!(
            "[scenario]\nname = \"{name}\"\nexpect = \"PASS\"\n[surrogate]\nurl = \"{}\"\n\
             [apply]\nkind = \"sql\"\nup = \"{name}.up.sql\"\n[snapshot]\nmethod = \"template\"\n{rollback}",
            pg().url(db)
        ),
    )
    .unwrap();
    p
}

/// #14 §5: a pg_dump of a schema rollproof never made, taken in, is
/// rehearsed by URL with an up/down pair (the trigger fires on the copy)
/// and with a restore; both PASS on the operator's leg, the reports
/// verify, the clone itself is unchanged and no rehearsal database is left.
#[test]
fn a_taken_in_postgres_clone_is_rehearsed_by_url_with_up_and_down_sql() {
    let w = Work::new();
    let db = "rollproof_in_rh";
    let r = take_in_shop(&w, "rh", db);
    assert_eq!(r["verdict"], "accepted", "{r}");
    let clone_before = hash(&w, db);
    let up = "INSERT INTO category(id, parent, name) VALUES (10, 1, 'sanders');\n\
              INSERT INTO product VALUES ('R-1', 10, 59.00, 'orbital');\n\
              INSERT INTO line VALUES (2, 2, 'R-1', 3);\n\
              UPDATE product SET note = 'sale' WHERE sku = 'S-1';\n";
    let down = "DELETE FROM line WHERE order_id = 2 AND n = 2;\n\
                UPDATE orders SET total = total - 3 WHERE id = 2;\n\
                UPDATE product SET note = NULL WHERE sku = 'S-1';\n\
                DELETE FROM product WHERE sku = 'R-1';\n\
                DELETE FROM category WHERE id = 10;\n";
    for (name, down) in [("clone-compensate", Some(down)), ("clone-restore", None)] {
        let sc = clone_scenario(&w, name, db, up, down);
        let (o, report) = crate::scripts::rehearse_one(&w, &sc);
        assert_success(&o);
        let report = report.expect("a report");
        assert_eq!(report["verdict"], "PASS", "{name}: {report:#}");
        assert_eq!(report["backend"], "postgres");
        assert_eq!(report["leg"], "operator real-dump clone", "{name}");
        // Named by the copy's logical digest (the copy, owned by the
        // run's sandbox role, has the clone's rows table by table).
        let before = &report["phases"]["before"]["logical"];
        assert_eq!(report["surrogate"]["sha256"], before["sha256"], "{name}");
        assert_eq!(
            before["tables"], clone_before["logical"]["tables"],
            "{name}"
        );
        // The up script ran on the copy, trigger and all.
        let deltas = &report["apply"]["observed_row_deltas"];
        assert_eq!(deltas["line"], 1, "{name}: {deltas}");
        assert_eq!(deltas["product"], 1, "{name}: {deltas}");
        assert_success(&crate::scripts::verify_report(&w, &o));
    }
    assert_eq!(
        hash(&w, db)["logical"],
        clone_before["logical"],
        "the clone is only read"
    );
    let left: i64 = connect("postgres")
        .query_one(
            "SELECT count(*) FROM pg_database WHERE starts_with(datname, 'rollproof_in_rh_')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the rehearsal copies are dropped");
}

/// A `url`-only scenario naming a database rollproof did not make is
/// refused by the guard (exit 3) before anything is created.
#[test]
fn a_url_only_scenario_on_a_foreign_database_is_refused() {
    let w = Work::new();
    connect("postgres")
        .batch_execute("DROP DATABASE IF EXISTS rollproof_not_ours")
        .unwrap();
    connect("postgres")
        .batch_execute("CREATE DATABASE rollproof_not_ours")
        .unwrap();
    let sc = clone_scenario(&w, "not-ours", "rollproof_not_ours", "SELECT 1;\n", None);
    let (o, _) = crate::scripts::rehearse_one(&w, &sc);
    assert_code(&o, 3);
    assert!(stderr(&o).contains("rollproof_not_ours"), "{}", stderr(&o));
}

/// #14 §3 on PostgreSQL: `births` on a taken-in clone without
/// `fn_birth_register` is bad input naming the function, and no rehearsal
/// database is left behind.
#[test]
fn births_on_a_postgres_clone_without_the_surface_name_what_is_missing() {
    let w = Work::new();
    let db = "rollproof_in_nb";
    take_in_shop(&w, "nb", db);
    let p = w.path("nb-births.toml");
    std::fs::write(
        &p,
        format!(
            "[scenario]\nname = \"nb-births\"\nexpect = \"PASS\"\n[surrogate]\nurl = \"{}\"\n\
             [apply]\nkind = \"births\"\ncount = 2\n[snapshot]\nmethod = \"template\"\n[rollback]\nmethod = \"restore\"\n",
            pg().url(db)
        ),
    )
    .unwrap();
    let o = w.run(&["rehearse", p.to_str().unwrap()]);
    assert_code(&o, 2);
    let e = stderr(&o);
    assert!(e.contains("missing function fn_birth_register"), "{e}");
    assert!(e.contains("missing table directus_users"), "{e}");
    let left: i64 = connect("postgres")
        .query_one(
            "SELECT count(*) FROM pg_database WHERE starts_with(datname, 'rollproof_in_nb_')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the rehearsal copy is dropped");
}
