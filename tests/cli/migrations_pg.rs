//! `rollproof migrations --target-url`: the PostgreSQL example folders give
//! their expected verdict per step on the shared throwaway cluster, every
//! database the run made is dropped at the end, and the guard refuses
//! servers and names that are not the rehearsal's own.

use crate::migrations::{check_against, example, expected, migrations_json};
use crate::util::pg;
use crate::util::*;

fn our_databases(prefix: &str) -> Vec<String> {
    let mut c = postgres::Client::connect(&pg().url("postgres"), postgres::NoTls).expect("connect");
    c.query(
        "SELECT datname::text FROM pg_database WHERE datname LIKE $1 || '%'",
        &[&prefix],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

#[test]
fn postgres_examples_give_their_expected_verdict_per_step() {
    for (name, db) in [
        ("pg-sqlx", "rollproof_mig_sqlx"),
        ("pg-golang-migrate", "rollproof_mig_gm"),
    ] {
        let w = Work::new();
        let url = pg().url(db);
        let e = expected(name);
        let mut args: Vec<&str> = e.args.iter().map(String::as_str).collect();
        args.extend(["--target-url", &url, "--reports", "r"]);
        let (code, v) = migrations_json(&w, &example(name), &args);
        check_against(name, code, &v);
        assert!(
            our_databases(db).is_empty(),
            "{name}: the run dropped its databases: {:?}",
            our_databases(db)
        );
    }
}

#[test]
fn the_guard_refuses_other_servers_and_names() {
    let w = Work::new();
    let dir = example("pg-golang-migrate");
    let d = dir.to_str().unwrap();
    let bad_name = pg().url("production");
    let o = w.run(&[
        "migrations",
        d,
        "--layout",
        "golang-migrate",
        "--target-url",
        &bad_name,
    ]);
    assert_code(&o, 3);
    assert!(
        stderr(&o).contains("not a rollproof database name"),
        "{}",
        stderr(&o)
    );
    let far = "postgres://u@10.255.0.1:5432/rollproof_x";
    let (code, v) = migrations_json(
        &w,
        &dir,
        &["--layout", "golang-migrate", "--target-url", far],
    );
    assert_eq!(code, 3, "{v}");
    assert!(v["error"].as_str().unwrap().contains("not loopback"), "{v}");
}
