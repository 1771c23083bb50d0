//! Every input file is a regular file under its size limit (docs/GUARD.md
//! "Input limits"): `/dev/zero`, a FIFO, a directory or an oversized file
//! given to any command is bad input (exit 2) with a clear message, and
//! never makes the command hang or grow without end.

use crate::util::*;
use std::path::{Path, PathBuf};

/// Limits as documented (the tests pin the documented numbers).
const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;

/// A file of `len` bytes that costs no disk (sparse): the limit is checked
/// before a byte is read.
fn sparse(w: &Work, name: &str, len: u64) -> PathBuf {
    let p = w.path(name);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(len).unwrap();
    p
}

/// Run `args` with `{}` replaced by `input`; it must end quickly with exit
/// 2 and a message naming the problem.
fn bad_input(w: &Work, args: &[&str], input: &Path, needle: &str) {
    let input = input.to_str().unwrap();
    let args: Vec<&str> = args
        .iter()
        .map(|a| if *a == "{}" { input } else { a })
        .collect();
    let o = run_within(w, &args, 30);
    assert_code(&o, 2);
    let err = stderr(&o);
    assert!(
        err.contains(needle),
        "rollproof {args:?}: expected {needle:?} in stderr: {err}"
    );
}

/// The commands that read a whole text input, with that input's limit.
fn text_inputs(w: &Work) -> Vec<(Vec<&'static str>, u64)> {
    let dump = Box::leak(w.tiny("dump.db", 3).display().to_string().into_boxed_str());
    vec![
        (
            vec![
                "guard",
                "check",
                "REAL_RUN",
                "--grant",
                "{}",
                "--target-digest",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ],
            64 * KIB,
        ),
        (vec!["verify", "{}"], 64 * MIB),
        (vec!["report", "show", "{}"], 64 * MIB),
        (vec!["blockers", "validate", "{}"], 16 * MIB),
        (vec!["blockers", "show", "{}"], 16 * MIB),
        (
            vec![
                "generate",
                "--profile",
                "{}",
                "--seed",
                "1",
                "--out",
                "o.db",
            ],
            16 * MIB,
        ),
        (vec!["rehearse", "{}"], MIB),
        (vec!["intake", dump, "--allow", "{}"], MIB),
    ]
}

#[test]
fn text_inputs_refuse_devices_fifos_directories_and_oversized_files() {
    let w = Work::new();
    let fifo = w.path("fifo");
    mkfifo(&fifo);
    std::fs::create_dir(w.path("folder")).unwrap();
    for (args, limit) in text_inputs(&w) {
        bad_input(&w, &args, Path::new("/dev/zero"), "character device");
        bad_input(&w, &args, &fifo, "FIFO");
        if args[0] != "rehearse" {
            // (rehearse takes a folder of scenarios on purpose)
            bad_input(&w, &args, &w.path("folder"), "is a directory");
        }
        let big = sparse(&w, "big", limit + 1);
        bad_input(&w, &args, &big, &format!("{limit}-byte limit"));
        // Exactly at the limit is allowed through the size check (and then
        // fails as malformed content, still exit 2, never "limit").
        let at = sparse(&w, "at", limit);
        let o = run_within(&w, &args_with(&args, &at), 60);
        assert_ne!(o.status.code(), Some(0), "{args:?}");
        assert!(
            !stderr(&o).contains("-byte limit"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

fn args_with<'a>(args: &[&'a str], input: &'a Path) -> Vec<&'a str> {
    let input = input.to_str().unwrap();
    args.iter()
        .map(|a| if *a == "{}" { input } else { a })
        .collect()
}

#[test]
fn database_inputs_must_be_regular_files() {
    let w = Work::new();
    let fifo = w.path("fifo");
    mkfifo(&fifo);
    std::fs::create_dir(w.path("folder")).unwrap();
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let tiny = tiny.to_str().unwrap();
    let commands: [&[&str]; 4] = [
        &["hash", "{}"],
        &["profile", "{}", "--out", "p.toml"],
        &["fidelity", "{}", "--profile", tiny],
        &["intake", "{}"],
    ];
    for args in commands {
        for input in [Path::new("/dev/zero"), &fifo, &w.path("folder")] {
            let o = run_within(&w, &args_with(args, input), 30);
            assert_code(&o, 2);
            assert!(
                stderr(&o).contains("not a regular file"),
                "{args:?} {}: {}",
                input.display(),
                stderr(&o)
            );
        }
    }
}

#[test]
fn a_scenario_naming_a_fifo_as_its_surrogate_or_script_does_not_hang() {
    let w = Work::new();
    let fifo = w.path("fifo");
    mkfifo(&fifo);
    std::fs::write(
        w.path("s.toml"),
        "[scenario]\nname = \"s\"\nexpect = \"PASS\"\n[surrogate]\nfile = \"fifo\"\n\
         [apply]\nkind = \"births\"\ncount = 1\n\
         [snapshot]\nmethod = \"copy\"\n[rollback]\nmethod = \"restore\"\n",
    )
    .unwrap();
    let o = run_within(&w, &["rehearse", "s.toml"], 30);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("not a regular file"), "{}", stderr(&o));
}

#[test]
fn generate_force_over_a_fifo_is_bad_input() {
    let w = Work::new();
    let fifo = w.path("out.db");
    mkfifo(&fifo);
    let tiny = repo_file("surrogates/profiles/tiny.toml");
    let o = run_within(
        &w,
        &[
            "generate",
            "--profile",
            tiny.to_str().unwrap(),
            "--seed",
            "1",
            "--out",
            "out.db",
            "--force",
        ],
        30,
    );
    assert_code(&o, 2);
    assert!(stderr(&o).contains("FIFO"), "{}", stderr(&o));
}

#[test]
fn a_dump_statement_longer_than_its_limit_is_refused_without_reading_it_whole() {
    let w = Work::new();
    // A "statement" with no end: 300 MiB of sparse zeros would be refused
    // as NUL bytes; a real unterminated string literal is what matters.
    let p = w.path("long.sql");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
        f.write_all(b"INSERT INTO t VALUES('").unwrap();
        let chunk = vec![b'a'; MIB as usize];
        for _ in 0..257 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(b"');\n").unwrap();
    }
    let o = run_within(&w, &["intake", p.to_str().unwrap()], 120);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("longer than"), "{}", stderr(&o));
}
