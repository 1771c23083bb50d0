//! Crash hygiene (issue #13 item 9): what a killed run leaves is found and
//! removed by `rollproof clean` (and only that); SIGINT/SIGTERM during
//! `generate` or `rehearse` remove the run's temporaries themselves.

use crate::util::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn default_profile() -> String {
    repo_file("surrogates/profiles/default.toml")
        .to_str()
        .unwrap()
        .to_string()
}

fn spawn(w: &Work, args: &[&str]) -> Child {
    w.cmd()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollproof")
}

/// Wait (up to 120 s) until `found` holds, failing if the child ended first.
fn wait_for(child: &mut Child, what: &str, mut found: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !found() {
        if let Some(s) = child.try_wait().unwrap() {
            panic!("rollproof ended ({s}) before {what}");
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Entries of `dir` whose name starts with `.rollproof-tmp-`.
fn temps_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with(".rollproof-tmp-"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Temp entries in the system temp folder owned by process `pid`.
fn system_temps_of(pid: u32) -> Vec<PathBuf> {
    temps_in(&std::env::temp_dir())
        .into_iter()
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with(&format!(".rollproof-tmp-{pid}."))
            })
        })
        .collect()
}

fn dirs_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// True once a folder under `root` carries its run's in-progress marker.
fn in_progress(root: &Path) -> bool {
    dirs_in(root)
        .iter()
        .any(|d| d.join(".rollproof-in-progress.json").exists())
}

/// A rehearsal of the default profile with a --keep folder (slow enough
/// to be interrupted while it runs).
fn scenario(w: &Work) -> PathBuf {
    let p = w.path("slow.toml");
    std::fs::write(
        &p,
        format!(
            "[scenario]\nname = \"slow\"\nexpect = \"PASS\"\n[surrogate]\nprofile = \"{}\"\nseed = 3\n\
             [apply]\nkind = \"births\"\ncount = 50\n[snapshot]\nmethod = \"copy\"\n\
             [rollback]\nmethod = \"restore\"\n",
            default_profile()
        ),
    )
    .unwrap();
    p
}

/// This process's start time (field 22 of /proc/self/stat).
fn my_start_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A `generate` of the default profile into `big.db`, once its temp file
/// is there (it is still writing).
fn generate_until_its_temp_file(w: &Work) -> Child {
    let profile = default_profile();
    let mut g = spawn(w, &["generate", "--profile", &profile, "--out", "big.db"]);
    wait_for(&mut g, "the temp file", || {
        !temps_in(w.dir.path()).is_empty()
    });
    g
}

#[test]
fn clean_removes_what_killed_runs_left_and_nothing_else() {
    let w = Work::new();
    let kept = w.tiny("kept.db", 7);
    let kept_sha = sha256_file(&kept);
    // A generate killed while it writes leaves its temp file beside --out.
    let mut g = generate_until_its_temp_file(&w);
    g.kill().unwrap();
    g.wait().unwrap();
    let leftover_tmp = temps_in(w.dir.path());
    assert!(!leftover_tmp.is_empty());
    // A rehearse killed mid-run leaves its run folder and a partial --keep.
    let sc = scenario(&w);
    let mut r = spawn(
        &w,
        &["rehearse", sc.to_str().unwrap(), "--keep", "artifacts"],
    );
    let keep_root = w.path("artifacts/slow");
    wait_for(&mut r, "the keep folder", || in_progress(&keep_root));
    r.kill().unwrap();
    r.wait().unwrap();
    let runs = w.path("rollproof-work/runs");
    let run_dirs = dirs_in(&runs);
    assert_eq!(run_dirs.len(), 1, "{run_dirs:?}");
    let keep_dirs = dirs_in(&keep_root);
    assert_eq!(keep_dirs.len(), 1);
    // Things clean must never touch: a run folder kept on purpose (no
    // marker), a temp name without an owner, a live owner's temp file.
    std::fs::create_dir_all(runs.join("inspect-me")).unwrap();
    std::fs::write(runs.join("inspect-me/target.db"), b"x").unwrap();
    std::fs::write(w.path(".rollproof-tmp-someone-else"), b"x").unwrap();
    let live = w.path(&format!(
        ".rollproof-tmp-{}.{}-live",
        std::process::id(),
        my_start_ticks()
    ));
    std::fs::write(&live, b"x").unwrap();

    let canon = |p: &Path| p.canonicalize().unwrap().display().to_string();
    let (run_dir, keep_dir) = (canon(&run_dirs[0]), canon(&keep_dirs[0]));
    let o = w.run(&["clean", "--dry-run"]);
    assert_success(&o);
    let dry = stdout(&o);
    assert!(dry.contains("would remove run folder"), "{dry}");
    assert!(run_dirs[0].exists() && keep_dirs[0].exists() && leftover_tmp[0].exists());

    let o = w.run(&["clean", "--json"]);
    assert_success(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let removed: Vec<(String, String)> = v["removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["kind"].as_str().unwrap().to_string(),
                i["what"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names = |kind: &str| -> Vec<String> {
        removed
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, w)| w.clone())
            .collect()
    };
    assert_eq!(names("run folder"), vec![run_dir], "{removed:?}");
    assert_eq!(names("keep folder"), vec![keep_dir], "{removed:?}");
    let tmp_name = leftover_tmp[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        names("temp file").iter().any(|p| p.ends_with(&tmp_name)),
        "{removed:?}"
    );
    assert!(!run_dirs[0].exists() && !keep_dirs[0].exists());
    assert!(
        temps_in(w.dir.path())
            .iter()
            .all(|p| p.ends_with(".rollproof-tmp-someone-else") || *p == live)
    );
    assert!(runs.join("inspect-me/target.db").exists());
    assert!(w.path(".rollproof-tmp-someone-else").exists());
    assert!(live.exists());
    assert_eq!(sha256_file(&kept), kept_sha);
    // Nothing left: a second clean removes nothing.
    let o = w.run(&["clean"]);
    assert_success(&o);
    assert!(stderr(&o).contains("removed 0 leftovers"), "{}", stderr(&o));
}

#[test]
fn sigterm_during_generate_and_sigint_during_rehearse_remove_their_temporaries() {
    let w = Work::new();
    let g = generate_until_its_temp_file(&w);
    signal(&g, libc::SIGTERM);
    let pid = g.id();
    let o = g.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("interrupted by SIGTERM"),
        "{}",
        stderr(&o)
    );
    assert!(temps_in(w.dir.path()).is_empty());
    assert!(!w.path("big.db").exists());
    assert!(system_temps_of(pid).is_empty());

    let sc = scenario(&w);
    let mut r = spawn(
        &w,
        &["rehearse", sc.to_str().unwrap(), "--keep", "artifacts"],
    );
    let keep_root = w.path("artifacts/slow");
    wait_for(&mut r, "the keep folder", || in_progress(&keep_root));
    signal(&r, libc::SIGINT);
    let pid = r.id();
    let o = r.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    assert!(dirs_in(&w.path("rollproof-work/runs")).is_empty());
    assert!(dirs_in(&keep_root).is_empty());
    assert!(system_temps_of(pid).is_empty());
    // Nothing is left for clean either.
    let o = w.run(&["clean"]);
    assert_success(&o);
    assert!(stderr(&o).contains("removed 0 leftovers"), "{}", stderr(&o));
}

/// True once `db` exists and holds rollproof's provenance row.
fn has_record(db: &str) -> bool {
    postgres::Client::connect(&pg().url(db), postgres::NoTls)
        .ok()
        .and_then(|mut c| {
            c.query_one("SELECT count(*) FROM rollproof_meta.provenance", &[])
                .ok()
        })
        .is_some_and(|r| r.get::<_, i64>(0) > 0)
}

/// A generate into PostgreSQL killed mid-load leaves a scratch database;
/// `clean` drops it, and never a database it did not create nor a finished
/// surrogate. SIGTERM drops the scratch database itself.
#[test]
fn clean_drops_only_the_scratch_databases_of_dead_runs() {
    let w = Work::new();
    let exists = |db: &str| {
        connect("postgres")
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&db])
            .unwrap()
            .is_some()
    };
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let kept = pg().url("rollproof_clean_kept");
    assert_success(&w.run(&[
        "generate",
        "--profile",
        tiny.to_str().unwrap(),
        "--target-url",
        &kept,
    ]));
    connect("postgres")
        .batch_execute("CREATE DATABASE rollproof_clean_foreign")
        .unwrap();
    let mut g = spawn(
        &w,
        &[
            "generate",
            "--profile",
            &default_profile(),
            "--target-url",
            &pg().url("rollproof_clean_big"),
        ],
    );
    wait_for(&mut g, "the database", || exists("rollproof_clean_big"));
    // Its record is written right after CREATE DATABASE.
    wait_for(&mut g, "its record", || has_record("rollproof_clean_big"));
    g.kill().unwrap();
    g.wait().unwrap();
    assert!(exists("rollproof_clean_big"));
    let o = w.run(&["clean"]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("removed database") && stdout(&o).contains("rollproof_clean_big"),
        "{}",
        stdout(&o)
    );
    assert!(!exists("rollproof_clean_big"));
    assert!(exists("rollproof_clean_kept"));
    assert!(exists("rollproof_clean_foreign"));
    // Another workspace never drops ours, even were it scratch.
    let other = Work::new();
    assert_success(&other.run(&["clean"]));
    assert!(exists("rollproof_clean_kept"));

    // SIGTERM mid-load: the process drops its own scratch database.
    let mut g = spawn(
        &w,
        &[
            "generate",
            "--profile",
            &default_profile(),
            "--target-url",
            &pg().url("rollproof_clean_sig"),
        ],
    );
    wait_for(&mut g, "its record", || has_record("rollproof_clean_sig"));
    std::thread::sleep(Duration::from_millis(100));
    signal(&g, libc::SIGTERM);
    let o = g.wait_with_output().unwrap();
    // Dropping the database fails the main thread's load, but the outcome
    // is the signal's (docs/GUARD.md "Crash hygiene").
    assert_eq!(o.status.code(), Some(143), "{}", stderr(&o));
    assert!(!exists("rollproof_clean_sig"), "{}", stderr(&o));
}

/// A server named on the command line is checked, never skipped: text that
/// is not a URL is bad input, a server the guard does not allow is refused,
/// and neither reports "nothing to clean".
#[test]
fn clean_refuses_a_target_url_it_cannot_use_instead_of_skipping_it() {
    let w = Work::new();
    let o = w.run(&["clean", "--target-url", "not a url", "--json"]);
    assert_code(&o, 2);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["kind"], "bad-input", "{v}");
    let o = w.run(&[
        "clean",
        "--target-url",
        "postgres://u:hunter2@db.example.org:5432/postgres",
    ]);
    assert_code(&o, 3);
    assert!(!stderr(&o).contains("hunter2"), "{}", stderr(&o));
    assert!(stderr(&o).contains("db.example.org"), "{}", stderr(&o));
}

/// A PostgreSQL rehearsal killed (SIGKILL) while its change script runs
/// leaves its sandbox role, a cluster-wide object; `clean` drops exactly
/// that role, named in the workspace's role ledger.
#[test]
fn clean_drops_the_sandbox_role_of_a_killed_postgres_rehearsal() {
    let w = Work::new();
    std::fs::write(w.path("slow.up.sql"), "SELECT pg_sleep(60);\n").unwrap();
    let sc = w.path("pgslow.toml");
    std::fs::write(
        &sc,
        format!(
            "[scenario]\nname = \"pgslow\"\nexpect = \"PASS\"\n[surrogate]\nprofile = \"{}\"\nseed = 3\nurl = \"{}\"\n\
             [apply]\nkind = \"sql\"\nup = \"slow.up.sql\"\n[snapshot]\nmethod = \"template\"\n[rollback]\nmethod = \"restore\"\n",
            repo_file("surrogates/profiles/tiny.toml").display(),
            pg().url("rollproof_clean_role")
        ),
    )
    .unwrap();
    let ledger = w.path("rollproof-work/.rollproof/pg/roles");
    let role_of = || -> Option<String> {
        let e = std::fs::read_dir(&ledger).ok()?.flatten().next()?;
        let name = e.file_name().to_string_lossy().into_owned();
        Some(name.split_once('-')?.1.strip_suffix(".json")?.to_string())
    };
    let role_exists = |role: &str| {
        connect("postgres")
            .query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1", &[&role])
            .unwrap()
            .get::<_, i64>(0)
            > 0
    };
    let mut r = spawn(&w, &["rehearse", sc.to_str().unwrap()]);
    wait_for(&mut r, "the sandbox role", || {
        role_of().is_some_and(|role| role_exists(&role))
    });
    let role = role_of().unwrap();
    assert!(role.starts_with("rollproof_r_"), "{role}");
    r.kill().unwrap();
    r.wait().unwrap();
    assert!(role_exists(&role), "SIGKILL cannot clean up");
    let o = w.run(&["clean", "--dry-run"]);
    assert_success(&o);
    assert!(role_exists(&role), "--dry-run removes nothing");
    let o = w.run(&["clean"]);
    assert_success(&o);
    assert!(
        stdout(&o).contains("removed role") && stdout(&o).contains(&role),
        "{}",
        stdout(&o)
    );
    assert!(!role_exists(&role));
    assert!(role_of().is_none(), "the ledger entry is gone too");
}
