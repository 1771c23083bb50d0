//! The PostgreSQL guard against a real server (the shared throwaway cluster
//! of `postgres.rs`): URLs are decided on the very configuration the client
//! connects with, passwords never appear in output.

use crate::postgres::exists;
use crate::util::*;

fn generate(w: &Work, url: &str, extra: &[&str]) -> std::process::Output {
    let profile = repo_file("surrogates/profiles/tiny.toml");
    let mut args = vec![
        "generate",
        "--profile",
        profile.to_str().unwrap(),
        "--seed",
        "1",
        "--target-url",
        url,
    ];
    args.extend(extra);
    w.run(&args)
}

#[test]
fn a_local_name_is_pinned_and_passwords_never_appear() {
    let w = Work::new();
    let port = pg().port();
    // "localhost" is checked once, pinned to its loopback address, and the
    // client connects there; the password (ignored by the trust-auth test
    // server) is in the user info and in the query string.
    let url =
        format!("postgres://rollproof:hunter2@localhost:{port}/rollproof_pinned?password=hunter3");
    let o = generate(&w, &url, &["--json"]);
    assert_success(&o);
    let all = format!("{}{}", stdout(&o), stderr(&o));
    assert!(!all.contains("hunter"), "password echoed: {all}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let shown = v["url"].as_str().unwrap();
    assert!(shown.contains("hostaddr=127.0.0.1"), "{shown}");
    assert!(exists("rollproof_pinned"));

    // Failures say what went wrong, and still not the password.
    for (url, code) in [
        // nothing listens on port 1
        (
            "postgres://rollproof:hunter2@127.0.0.1:1/rollproof_x?password=hunter3".to_string(),
            2,
        ),
        // not understood: refused
        (
            format!(
                "postgres://rollproof:hunter2@127.0.0.1:{port}/rollproof_x?password=hunter3&service=s"
            ),
            3,
        ),
        // a malformed port
        (
            "postgres://rollproof:hunter2@127.0.0.1:x/rollproof_x?password=hunter3".to_string(),
            2,
        ),
        // the two-parser trick: the client would connect to 10.0.0.5
        (
            format!(
                "postgres://localhost/rollproof_d1?application_name=hunter2@10.0.0.5:{port}/rollproof_d1"
            ),
            3,
        ),
    ] {
        let o = generate(&w, &url, &[]);
        assert_code(&o, code);
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains("hunter3"), "password echoed: {all}");
        let o = w.run(&["hash", "--target-url", &url]);
        assert_code(&o, code);
        assert!(!stderr(&o).contains("hunter3"), "{}", stderr(&o));
    }
    assert!(!exists("rollproof_d1"));
}
