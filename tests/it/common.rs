//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `hoptrace` binary with `--db` pointing at `db`.
pub(crate) fn hoptrace(db: &Path) -> Command {
    let mut cmd = Command::cargo_bin("hoptrace").expect("binary built");
    cmd.env_remove("HOPTRACE_DB").arg("--db").arg(db);
    cmd
}

/// The shared data directory (`../shared/data` next to the repository).
pub(crate) fn shared_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// The repository's fixtures directory.
pub(crate) fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Writes `text` to `dir/name` and returns the path.
pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write test file");
    p
}

/// Imports a transfer file and a label file into `db`, asserting both succeed.
pub(crate) fn import_both(db: &Path, transfers: &Path, labels: &Path) {
    hoptrace(db)
        .args(["import", "transfers"])
        .arg(transfers)
        .assert()
        .success();
    hoptrace(db)
        .args(["import", "labels"])
        .arg(labels)
        .assert()
        .success();
}
