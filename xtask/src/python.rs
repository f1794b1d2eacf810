//! The Python venv tests and benchmarks compare against: real Flask, Flask-Session and gunicorn
//! from PyPI, pinned in tests/fixtures/python-requirements.txt.

use std::path::PathBuf;
use std::process::Command;

use crate::{Result, exec, root};

/// Creates (or reuses) `target/test-venv`; returns its python.
pub fn test_venv() -> Result<PathBuf> {
    let venv = root().join("target").join("test-venv");
    let python = if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    };
    let requirements = root().join("tests/fixtures/python-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let marker = venv.join(".yam-requirements");
    if python.is_file() && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(python);
    }
    let python3 = if crate::packages::has_command("python3") {
        "python3"
    } else {
        "python"
    };
    exec(Command::new(python3).args(["-m", "venv"]).arg(&venv))?;
    exec(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )?;
    std::fs::write(&marker, wanted).map_err(|e| e.to_string())?;
    Ok(python)
}
