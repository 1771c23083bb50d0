//! Signed reports (issue #13): `rehearse --sign-key` writes an SSHSIG
//! `<report>.json.sig` that the stock `ssh-keygen -Y verify` and `rollproof
//! verify --trust` judge alike — both accept the genuine report, both
//! reject it once tampered with, re-sealed or not — and a consistent report
//! that is unsigned or signed by an unknown key is not evidence.

use super::*;
use std::process::Stdio;

/// `ssh-keygen -Y verify -f TRUST -I IDENTITY -n NAMESPACE -s SIG < FILE`.
fn ssh_verify(trust: &Path, identity: &str, namespace: &str, sig: &Path, file: &Path) -> bool {
    let o = Command::new("ssh-keygen")
        .args([
            "-Y",
            "verify",
            "-f",
            p(trust),
            "-I",
            identity,
            "-n",
            namespace,
            "-s",
            p(sig),
        ])
        .stdin(Stdio::from(std::fs::File::open(file).unwrap()))
        .output()
        .expect("ssh-keygen must be installed for this test");
    o.status.success()
}

/// `ssh-keygen -Y sign -f KEY -n NAMESPACE FILE` (writes FILE.sig).
fn ssh_sign(key: &Key, namespace: &str, file: &Path) {
    let o = Command::new("ssh-keygen")
        .args([
            "-Y",
            "sign",
            "-f",
            p(&key.private),
            "-n",
            namespace,
            p(file),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "ssh-keygen -Y sign: {}", stderr(&o));
}

fn verify_trust(w: &Work, report: &Path, trust: &Path) -> std::process::Output {
    w.run(&["verify", p(report), "--trust", p(trust)])
}

/// A signed copy-restore rehearsal: (report, key, trust file).
fn signed_run(w: &Work) -> (PathBuf, Key, PathBuf) {
    let key = w.keygen("keys/ci", "ci@example.org");
    let trust = w.allowed_signers(
        "allowed_signers",
        &[(&key, "namespaces=\"rollproof-report\"")],
    );
    let sc = w.path("copy-restore.toml");
    std::fs::write(
        &sc,
        format!(
            "[scenario]\nname = \"copy-restore\"\ndescription = \"signed\"\nexpect = \"PASS\"\n\n[surrogate]\nprofile = \"{}\"\nseed = 3\n\n{BIRTHS}[snapshot]\nmethod = \"copy\"\n\n[rollback]\nmethod = \"restore\"\n",
            p(&repo_file("surrogates/profiles/tiny.toml"))
        ),
    )
    .unwrap();
    let o = w.run(&[
        "rehearse",
        p(&sc),
        "--reports",
        p(&w.path("reports")),
        "--workspace",
        p(&w.path("ws")),
        "--sign-key",
        p(&key.private),
    ]);
    assert_success(&o);
    let line = stdout(&o)
        .lines()
        .find_map(|l| l.trim().strip_prefix("report: ").map(str::to_string))
        .expect("report line");
    let report = PathBuf::from(line);
    assert!(
        stdout(&o).contains(&format!("signature: {}", p(&sig_of(&report)))),
        "{}",
        stdout(&o)
    );
    (report, key, trust)
}

#[test]
fn ssh_keygen_and_rollproof_verify_agree_on_genuine_and_tampered_reports() {
    let w = Work::new();
    let (report, key, trust) = signed_run(&w);
    let sig = sig_of(&report);
    let armored = std::fs::read_to_string(&sig).unwrap();
    assert!(
        armored.starts_with("-----BEGIN SSH SIGNATURE-----\n"),
        "{armored}"
    );
    // Genuine: both accept.
    assert!(ssh_verify(
        &trust,
        &key.principal,
        "rollproof-report",
        &sig,
        &report
    ));
    let o = verify_trust(&w, &report, &trust);
    assert_success(&o);
    assert!(
        stdout(&o).contains("; signed by ci@example.org (SHA256:"),
        "{}",
        stdout(&o)
    );
    // The signature binds the namespace: as a grant signature it fails.
    assert!(!ssh_verify(
        &trust,
        &key.principal,
        "rollproof-grant",
        &sig,
        &report
    ));

    // Tampered and re-sealed (consistent): both reject the signature.
    let mut v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    v["scenario"]["description"] = "signed, then edited".into();
    let forged = w.path("forged.json");
    std::fs::write(&forged, reseal(v)).unwrap();
    std::fs::copy(&sig, sig_of(&forged)).unwrap();
    assert!(!ssh_verify(
        &trust,
        &key.principal,
        "rollproof-report",
        &sig_of(&forged),
        &forged
    ));
    let o = verify_trust(&w, &forged, &trust);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("NOT EVIDENCE (consistent, but bad signature"),
        "{}",
        stdout(&o)
    );
    // Without --trust it is only consistent: exit 0, and it says so.
    let o = w.run(&["verify", p(&forged)]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("signature not checked"),
        "{}",
        stdout(&o)
    );

    // One flipped byte: both reject (rollproof already on the seal).
    let mut bytes = std::fs::read(&report).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    let flipped = w.path("flipped.json");
    std::fs::write(&flipped, &bytes).unwrap();
    std::fs::copy(&sig, sig_of(&flipped)).unwrap();
    assert!(!ssh_verify(
        &trust,
        &key.principal,
        "rollproof-report",
        &sig_of(&flipped),
        &flipped
    ));
    assert_code(&verify_trust(&w, &flipped, &trust), 1);

    // Signed by the stock tool: rollproof accepts it too.
    let copy = w.path("resigned.json");
    std::fs::copy(&report, &copy).unwrap();
    ssh_sign(&key, "rollproof-report", &copy);
    assert_success(&verify_trust(&w, &copy, &trust));
}

#[test]
fn unsigned_and_untrusted_reports_are_consistent_but_not_evidence() {
    let w = Work::new();
    let (report, key, trust) = signed_run(&w);
    // Unsigned.
    let unsigned = w.path("unsigned.json");
    std::fs::copy(&report, &unsigned).unwrap();
    let o = verify_trust(&w, &unsigned, &trust);
    assert_code(&o, 1);
    assert!(
        stdout(&o).contains("NOT EVIDENCE (consistent, but unsigned"),
        "{}",
        stdout(&o)
    );
    let o = w.run(&["verify", p(&unsigned), "--trust", p(&trust), "--json"]);
    assert_code(&o, 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            &v[0]["consistent"],
            &v[0]["evidence"],
            &v[0]["signature"]["status"]
        ),
        (
            &Value::Bool(true),
            &Value::Bool(false),
            &Value::from("unsigned")
        )
    );
    // Signed by a key the trust file does not list: both reject.
    let stranger = w.keygen("keys/stranger", "ci@example.org");
    let other = w.path("other.json");
    std::fs::copy(&report, &other).unwrap();
    ssh_sign(&stranger, "rollproof-report", &other);
    assert!(!ssh_verify(
        &trust,
        &key.principal,
        "rollproof-report",
        &sig_of(&other),
        &other
    ));
    let o = verify_trust(&w, &other, &trust);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("does not list"), "{}", stdout(&o));
    // A key trusted only for grants does not sign reports.
    let grants_only = w.allowed_signers("grants_only", &[(&key, "namespaces=\"rollproof-grant\"")]);
    assert!(!ssh_verify(
        &grants_only,
        &key.principal,
        "rollproof-report",
        &sig_of(&report),
        &report
    ));
    let o = verify_trust(&w, &report, &grants_only);
    assert_code(&o, 1);
    assert!(stdout(&o).contains("namespace"), "{}", stdout(&o));
    // An expired key (valid-before in the past): both reject.
    let expired = w.allowed_signers("expired", &[(&key, "valid-before=\"20200101Z\"")]);
    assert!(!ssh_verify(
        &expired,
        &key.principal,
        "rollproof-report",
        &sig_of(&report),
        &report
    ));
    assert_code(&verify_trust(&w, &report, &expired), 1);
    // A trust file rollproof does not understand is bad input, not trust.
    let weird = w.allowed_signers("weird", &[(&key, "cert-authority")]);
    let o = verify_trust(&w, &report, &weird);
    assert_code(&o, 2);
    assert!(
        stderr(&o).contains("line 1: cert-authority"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_signing_key_comes_from_the_environment_and_must_be_private() {
    let w = Work::new();
    let (report, key, trust) = signed_run(&w);
    // `report sign` with $ROLLPROOF_SIGNING_KEY re-signs (e.g. after rotation).
    let new = w.keygen("keys/new", "ci@example.org");
    let o = w
        .cmd()
        .args(["report", "sign", p(&report)])
        .env("ROLLPROOF_SIGNING_KEY", &new.private)
        .output()
        .unwrap();
    assert_success(&o);
    assert_code(&verify_trust(&w, &report, &trust), 1);
    let both = w.allowed_signers("both", &[(&key, ""), (&new, "")]);
    assert_success(&verify_trust(&w, &report, &both));
    // A key file others can read is refused before anything runs.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&new.private, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = w.run(&["report", "sign", p(&report), "--sign-key", p(&new.private)]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("too open"), "{}", stderr(&o));
    // A passphrase-protected key is refused (rollproof signs unattended).
    let locked = w.path("keys/locked");
    let o = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "secret", "-f", p(&locked)])
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = w.run(&["report", "sign", p(&report), "--sign-key", p(&locked)]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("passphrase"), "{}", stderr(&o));
    // A tampered report is never signed.
    let mut v: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    v["verdict"] = "FAIL".into();
    let bad = w.path("bad.json");
    std::fs::write(&bad, reseal(v)).unwrap();
    let o = w.run(&["report", "sign", p(&bad), "--sign-key", p(&key.private)]);
    assert_code(&o, 1);
    assert!(!sig_of(&bad).exists());
}

#[test]
fn the_dsse_envelope_is_checked_by_ssh_keygen_with_the_documented_recipe() {
    let w = Work::new();
    let (report, key, trust) = signed_run(&w);
    let env = w.path("proof.intoto.json");
    let o = w.run(&[
        "report",
        "attest",
        p(&report),
        "--out",
        p(&env),
        "--sign-key",
        p(&key.private),
    ]);
    assert_success(&o);
    // docs/REPORT.md: tools/dsse_pae.py writes the signed bytes and the armored signature.
    let o = Command::new("python3")
        .args([p(&repo_file("tools/dsse_pae.py")), p(&env)])
        .current_dir(w.dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let (pae, sig) = (w.path("proof.intoto.pae"), w.path("proof.intoto.pae.sig"));
    assert!(ssh_verify(
        &trust,
        &key.principal,
        "rollproof-report",
        &sig,
        &pae
    ));
    // Changing one byte of the payload breaks it for both.
    let mut b = std::fs::read(&pae).unwrap();
    let n = b.len() - 2;
    b[n] ^= 1;
    std::fs::write(&pae, b).unwrap();
    assert!(!ssh_verify(
        &trust,
        &key.principal,
        "rollproof-report",
        &sig,
        &pae
    ));
    assert_success(&verify_trust(&w, &env, &trust));
}
