//! End-to-end tests for this feature (filled in by its issue).
