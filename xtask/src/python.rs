//! The Python venv tests and benchmarks compare against: real Flask, Flask-Session and gunicorn
//! from PyPI, pinned in tests/fixtures/python-requirements.txt.
//!
//! `python -m venv` hides why its ensurepip step failed (it captures the output), and that
//! step fails on machines where it works elsewhere (a Debian python without python3-venv, a
//! full disk). So each way of making the venv is tried in turn, and every failure is printed
//! with its own output and the free disk space, before the next way is tried.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, root};

/// Creates (or reuses) `target/test-venv`; returns its python.
pub fn test_venv() -> Result<PathBuf> {
    let venv = crate::target_dir().join("test-venv");
    let python = venv_python(&venv);
    let requirements = root().join("tests/fixtures/python-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("{}: {e}", requirements.display()))?;
    let marker = venv.join(".yam-requirements");
    if python.is_file() && std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return Ok(python);
    }
    let mut failures = Vec::new();
    for base in [Base::OnPath, Base::Debian] {
        // Prepared only when reached: Debian's needs python3-venv installed first.
        let Some(base) = base.prepare() else {
            continue;
        };
        for way in [Way::VenvWithPip, Way::VenvThenOuterPip] {
            let _ = std::fs::remove_dir_all(&venv);
            match way.make(&base, &venv, &requirements) {
                Ok(()) => {
                    std::fs::write(&marker, &wanted).map_err(|e| e.to_string())?;
                    return Ok(python);
                }
                Err(e) => {
                    eprintln!("python venv: {} with {base} failed: {e}", way.describe());
                    eprintln!("{}", crate::disk::free_space_line(&crate::target_dir()));
                    failures.push(format!("{} with {base}", way.describe()));
                }
            }
        }
    }
    Err(format!(
        "could not make the Python venv in {} (tried: {}); see the output above",
        venv.display(),
        failures.join("; ")
    ))
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts/python.exe")
    } else {
        venv.join("bin/python")
    }
}

/// The interpreters to build the venv from, in order.
#[derive(Clone, Copy)]
enum Base {
    /// `python3` (or `python`) on PATH.
    OnPath,
    /// Debian's `/usr/bin/python3` with its python3-venv package installed (it may be the same
    /// interpreter as the one on PATH, which failed for lack of that package).
    Debian,
}

impl Base {
    /// The interpreter to run, or None when this machine has none of this kind.
    fn prepare(self) -> Option<String> {
        let has = crate::packages::has_command;
        match self {
            Base::OnPath if has("python3") => Some("python3".to_owned()),
            Base::OnPath if has("python") => Some("python".to_owned()),
            Base::OnPath => None,
            Base::Debian => {
                let debian = Path::new("/usr/bin/python3");
                if !debian.is_file() {
                    return None;
                }
                if let Err(e) = crate::packages::ensure_libraries(&["python3-venv"]) {
                    eprintln!("python venv: cannot install python3-venv: {e}");
                    return None;
                }
                Some(debian.display().to_string())
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Way {
    /// `python -m venv` (pip through ensurepip), then the venv's pip installs the packages.
    VenvWithPip,
    /// `python -m venv --without-pip`, then the base interpreter's pip installs into the venv
    /// (`pip --python`, pip ≥ 22.3): no ensurepip at all.
    VenvThenOuterPip,
}

impl Way {
    fn describe(self) -> &'static str {
        match self {
            Way::VenvWithPip => "`-m venv`",
            Way::VenvThenOuterPip => "`-m venv --without-pip` + `-m pip --python`",
        }
    }

    fn make(self, base: &str, venv: &Path, requirements: &Path) -> Result {
        let pip_install = ["install", "--quiet", "--disable-pip-version-check", "-r"];
        match self {
            Way::VenvWithPip => {
                if let Err(e) = run(Command::new(base).args(["-m", "venv"]).arg(venv)) {
                    // venv swallowed ensurepip's own words; ask it again, out loud.
                    let why = run(Command::new(venv_python(venv)).args([
                        "-m",
                        "ensurepip",
                        "--upgrade",
                        "--default-pip",
                    ]))
                    .err()
                    .unwrap_or_default();
                    return Err(format!("{e}\nensurepip run again: {why}"));
                }
                run(Command::new(venv_python(venv))
                    .args(["-m", "pip"])
                    .args(pip_install)
                    .arg(requirements))
            }
            Way::VenvThenOuterPip => {
                run(Command::new(base)
                    .args(["-m", "venv", "--without-pip"])
                    .arg(venv))?;
                run(Command::new(base)
                    .args(["-m", "pip", "--python"])
                    .arg(venv_python(venv))
                    .args(pip_install)
                    .arg(requirements))
            }
        }
    }
}

/// Runs `cmd`; on failure the error carries everything it printed.
fn run(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .map_err(|e| format!("could not start {shown}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{shown} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}
