//! JUnit XML for CI: one test suite per folder, one test case per
//! migration (GitLab and GitHub show these files as test results). Written
//! with `quick-junit`, nextest's well-kept JUnit writer, rather than by
//! hand: it escapes XML correctly (migration names and database messages
//! are untrusted text) and produces what CI parsers accept.
//!
//! A failing step is a `<failure>` whose message is the verdict in words;
//! an irreversible migration is a failure too, unless irreversible
//! migrations are allowed (then `<skipped>`, with the reason); setup-only
//! and not-run steps are `<skipped>`.

use super::report::{MigrationsReport, StepStatus};
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::Path;
use std::time::Duration;

/// Why the JUnit file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum JunitError {
    /// Serialising failed.
    #[error("cannot write JUnit XML: {0}")]
    Serialize(#[from] quick_junit::SerializeError),
    /// Its folder could not be created.
    #[error("cannot create {path}: {source}")]
    Mkdir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing the file failed.
    #[error(transparent)]
    Write(#[from] crate::util::fsutil::WriteError),
}

/// The JUnit document of a report.
pub fn render(r: &MigrationsReport) -> Result<String, JunitError> {
    let mut suite = TestSuite::new(format!("rollproof migrations {}", r.folder.path));
    for s in &r.steps {
        let words = s.findings.join("; ");
        let status = match s.status {
            StepStatus::Pass => TestCaseStatus::success(),
            StepStatus::Fail => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(words.clone())
                    .set_type("down does not restore");
                st
            }
            StepStatus::Irreversible if !r.allow_irreversible => {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(words.clone()).set_type("irreversible");
                st
            }
            StepStatus::Irreversible | StepStatus::Setup | StepStatus::NotRun => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(words.clone());
                st
            }
        };
        let name = if s.name.is_empty() {
            s.version.clone()
        } else {
            format!("{}_{}", s.version, s.name)
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(format!(
            "{} ({}, {})",
            r.folder.path, r.folder.layout, r.backend
        ))
        .set_time(Duration::from_millis(s.ms));
        if !s.findings.is_empty() {
            case.set_system_out(words);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("rollproof migrations");
    report.add_test_suite(suite);
    Ok(report.to_string()?)
}

/// Write the JUnit document to `file` (atomically, replacing it; its
/// folder is created when missing, as CI paths like `target/junit/` are).
pub fn write(r: &MigrationsReport, file: &Path) -> Result<(), JunitError> {
    let dir = crate::util::fsutil::parent_dir(file);
    std::fs::create_dir_all(dir).map_err(|source| JunitError::Mkdir {
        path: dir.to_path_buf(),
        source,
    })?;
    crate::util::fsutil::write_atomic(file, render(r)?.as_bytes(), true)?;
    Ok(())
}
