//! Executable documentation: every example in the README and in every
//! subcommand's `--help` runs verbatim, in a fresh copy of the repository's
//! data, with `rollproof` on PATH, and must give the exit code it is shown
//! with (a trailing `# … exit N` comment; otherwise 0). README sessions
//! (```console blocks) also compare each command's output, stdout and
//! stderr together, with snapbox's wildcards (`[..]` within a line, `...`
//! for lines) and redactions (`[RUN]` for run ids, `[ROOT]` for the copy's
//! folder) — the way trycmd checks cargo's own docs. trycmd itself cannot
//! read examples out of `--help` or give the copy of the repository a
//! session needs, so the extraction is here and the matching is snapbox's.
//!
//! Examples run in the order shown; the examples of one `--help` share one
//! copy (so an example may use what the one before it made), the README's
//! console blocks another.

mod extract;

use crate::util::repo;
use extract::{Example, console_sessions, help_examples, indented_commands, subcommands};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What a fresh clone holds that examples read: data, not sources.
const COPIED: &[&str] = &[
    "SEALS.json",
    "README.md",
    "blockers",
    "docs",
    "examples",
    "reports",
    "scenarios",
    "surrogates",
    "tests/fixtures",
];

/// A fresh copy of the repository's data and a PATH with `rollproof` on it.
struct Clone {
    dir: tempfile::TempDir,
    bin: PathBuf,
}

impl Clone {
    fn new() -> Clone {
        let dir = tempfile::tempdir().expect("temp dir");
        for rel in COPIED {
            copy_tree(&repo().join(rel), &dir.path().join(rel));
        }
        let bin = dir.path().join(".bin");
        std::fs::create_dir(&bin).expect("bin dir");
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_rollproof"), bin.join("rollproof"))
            .expect("link rollproof");
        Clone { dir, bin }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Run one example line through `sh`, as a user pastes it; stdout and
    /// stderr merged in order, as a terminal shows them.
    fn sh(&self, line: &str) -> (Option<i32>, String) {
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("timeout")
            .arg("600")
            .arg("sh")
            .arg("-c")
            .arg(format!("exec 2>&1\n{line}"))
            .current_dir(self.root())
            .env("PATH", path)
            .env_remove("ROLLPROOF_WORKSPACE")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run sh");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }
}

fn copy_tree(from: &Path, to: &Path) {
    let meta =
        std::fs::symlink_metadata(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    if meta.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("dir entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else if meta.is_file() {
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
}

/// Run `examples` in order in one fresh clone; every failure is collected,
/// so one run names every example that does not work.
fn run_all(place: &str, examples: &[Example], failures: &mut Vec<String>) {
    let clone = Clone::new();
    let mut redactions = snapbox::Redactions::new();
    redactions
        .insert(
            "[RUN]",
            regex::Regex::new(r"(?<redacted>\d{8}T\d{6}Z-[0-9a-f]{8})").unwrap(),
        )
        .unwrap();
    redactions
        .insert("[ROOT]", clone.root().canonicalize().unwrap())
        .unwrap();
    let assert = snapbox::Assert::new().redact_with(redactions);
    for ex in examples {
        let (code, output) = clone.sh(&ex.command);
        if code != Some(ex.exit) {
            failures.push(format!(
                "{place}: `{}` exited {code:?}, shown as exit {}:\n{output}",
                ex.command, ex.exit
            ));
            continue;
        }
        if let Some(expected) = &ex.output {
            let expected = snapbox::Data::text(expected.clone());
            if let Err(e) = assert.try_eq(Some(&"actual"), output.into(), expected) {
                failures.push(format!(
                    "{place}: `{}` printed other output than shown:\n{e}",
                    ex.command
                ));
            }
        }
    }
}

/// `rollproof WORDS --help` as clap renders it off a terminal and on one
/// of 100 columns or more (its widest).
pub(crate) fn help_text(words: &[String]) -> String {
    help_text_width(words, 100)
}

fn help_text_width(words: &[String], columns: u32) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_rollproof"))
        .args(words)
        .arg("--help")
        .env("COLUMNS", columns.to_string())
        .output()
        .expect("run --help");
    assert!(out.status.success(), "rollproof {words:?} --help failed");
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// `rollproof` and every (sub)command path under it, parents first.
pub(crate) fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        for sub in subcommands(&help_text(&path)).into_iter().rev() {
            let mut p = path.clone();
            p.push(sub);
            todo.push(p);
        }
        paths.push(path);
    }
    paths
}

#[test]
fn every_subcommand_help_has_examples_that_run_verbatim() {
    let mut failures = Vec::new();
    let paths = command_paths();
    assert!(paths.len() > 15, "found too few subcommands: {paths:?}");
    for path in &paths {
        let place = format!(
            "rollproof {}--help",
            path.join(" ") + if path.is_empty() { "" } else { " " }
        );
        let examples = help_examples(&help_text(path));
        if examples.is_empty() {
            failures.push(format!("{place}: no Examples section"));
            continue;
        }
        // clap wraps help at 100 columns: an example that does not fit
        // would be pasted broken (break it with `\` instead).
        if examples != help_examples(&help_text_width(path, 1000)) {
            failures.push(format!(
                "{place}: an example is wider than 100 columns and wraps"
            ));
        }
        run_all(&place, &examples, &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn readme_session_runs_verbatim_with_the_output_shown() {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let sessions = console_sessions(&readme);
    assert!(!sessions.is_empty(), "README has no ```console session");
    let mut failures = Vec::new();
    // One clone for all of them: the README reads as one session.
    let all: Vec<Example> = sessions.into_iter().flatten().collect();
    run_all("README.md", &all, &mut failures);
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn readme_commands_in_indented_blocks_run() {
    // The README's indented commands through cargo (`cargo run -- ARGS`)
    // are `rollproof ARGS` once installed; they run too, each in a
    // fresh clone, unless the README session runs the same command (the
    // test command itself, `bash tools/test.sh`, is this suite).
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README");
    let session: Vec<String> = console_sessions(&readme)
        .into_iter()
        .flatten()
        .map(|e| e.command)
        .collect();
    let commands = indented_commands(&readme);
    assert!(
        commands.iter().any(|c| c.command.contains("rehearse")),
        "the README's main job is not among {commands:?}"
    );
    let mut failures = Vec::new();
    // One already run in the README session is not run twice.
    for c in commands.iter().filter(|c| !session.contains(&c.command)) {
        run_all("README.md", std::slice::from_ref(c), &mut failures);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}
