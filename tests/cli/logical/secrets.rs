//! §5: a failing rehearsal whose diff holds a planted private key and a
//! bcrypt hash prints neither, anywhere: not in the report JSON, not in
//! the Markdown beside it, not on stdout or stderr, not in `report show`.

use super::*;

const PEM_BODY: &str = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW";
const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

#[test]
fn planted_secrets_never_reach_a_report_or_the_terminal() {
    let w = Work::new();
    let pem = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----"
    );
    let up = format!(
        "CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);\n\
         INSERT INTO notes VALUES (1, '{pem}');\n\
         UPDATE directus_users SET password = '{BCRYPT}' WHERE id = (SELECT min(id) FROM directus_users);\n"
    );
    // Wrong: leaves the key and the new password hash behind.
    let s = sql_scenario(
        &w,
        "secrets",
        &up,
        "DELETE FROM notes WHERE id = 2;\n",
        "notes = 1",
    );
    let (o, path, r) = run(&w, &s);
    assert_code(&o, 1);
    assert_eq!(r["verdict"], "FAIL");
    // The diff still shows where: the two tables, as digests.
    let tables: Vec<&str> = r["diff"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert!(
        tables.contains(&"notes") && tables.contains(&"directus_users"),
        "{tables:?}"
    );
    let json = std::fs::read_to_string(&path).unwrap();
    assert!(json.contains("[redacted sha256:"), "{json}");
    let md = std::fs::read_to_string(path.with_extension("md")).unwrap();
    let plain = w.run(&[
        "rehearse",
        s.scenario.to_str().unwrap(),
        "--workspace",
        w.path("ws").to_str().unwrap(),
    ]);
    let show = w.run(&["report", "show", path.to_str().unwrap()]);
    let show_md = w.run(&["report", "show", "--markdown", path.to_str().unwrap()]);
    let bcrypt_body = &BCRYPT[7..];
    for (what, text) in [
        ("report JSON", json),
        ("report Markdown", md),
        ("--json stdout", stdout(&o)),
        ("--json stderr", stderr(&o)),
        ("stdout", stdout(&plain)),
        ("stderr", stderr(&plain)),
        ("report show", stdout(&show)),
        ("report show --markdown", stdout(&show_md)),
    ] {
        assert!(
            !text.contains(PEM_BODY),
            "{what} leaks the private key:\n{text}"
        );
        assert!(
            !text.contains("BEGIN OPENSSH"),
            "{what} leaks the private key:\n{text}"
        );
        assert!(
            !text.contains(bcrypt_body),
            "{what} leaks the bcrypt hash:\n{text}"
        );
    }
}
