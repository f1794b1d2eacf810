//! A Python venv with the real Flask, Flask-Session (and gunicorn) from PyPI, for tests and
//! benchmarks that compare against or read from the Python stack YAM runs on.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The packages of the test venv (YAM's current stack), shared with `cargo xtask test`.
pub fn requirements_file() -> PathBuf {
    fixture("python-requirements.txt")
}

/// The venv's python: `$YAM_TEST_PYTHON` (set by `cargo xtask test`), or a venv created in
/// `target/test-venv` on first use.
pub fn flask_python() -> PathBuf {
    if let Ok(p) = std::env::var("YAM_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let venv = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| root.join("target"), PathBuf::from)
        .join("test-venv");
    ensure_venv(&venv).unwrap_or_else(|e| panic!("cannot prepare the Python venv: {e}"))
}

/// Creates `venv` with the packages unless it is already complete; returns its python.
pub fn ensure_venv(venv: &Path) -> Result<PathBuf, String> {
    let python = if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    };
    let marker = venv.join(".yam-requirements");
    let wanted = std::fs::read_to_string(requirements_file()).map_err(|e| e.to_string())?;
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) && python.is_file() {
        return Ok(python);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(requirements_file()))?;
    std::fs::write(&marker, wanted).map_err(|e| e.to_string())?;
    Ok(python)
}

/// Copies a fixture folder (a YAM stand-in) into a test's own folder.
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}
