//! System packages the commands need: installed with apt-get when running as root on
//! Debian/Ubuntu, otherwise the exact command to run is printed.

use std::process::Command;

use crate::{Result, exec};

/// A command that must be on PATH and the Debian package that provides it.
pub struct Need {
    pub command: &'static str,
    pub package: &'static str,
}

pub const BUILD: [Need; 2] = [
    Need {
        command: "cc",
        package: "build-essential",
    },
    Need {
        command: "pkg-config",
        package: "pkg-config",
    },
];

/// Real Chromium for the UI tests (playwright-core drives it; nothing is downloaded).
pub const UI_TESTS: [Need; 3] = [
    Need {
        command: "chromium",
        package: "chromium",
    },
    Need {
        command: "node",
        package: "nodejs",
    },
    Need {
        command: "npm",
        package: "npm",
    },
];

/// Tauri v2 on Linux, plus a real X server, screenshots, a session bus and a window manager for
/// the desktop test.
pub const TRAY_LIBS: [&str; 6] = [
    "libwebkit2gtk-4.1-dev",
    "libgtk-3-dev",
    "libayatana-appindicator3-dev",
    "librsvg2-dev",
    "libsoup-3.0-dev",
    "pkg-config",
];
pub const TRAY_TOOLS: [Need; 6] = [
    Need {
        command: "Xvfb",
        package: "xvfb",
    },
    Need {
        command: "xauth",
        package: "xauth",
    },
    Need {
        command: "import",
        package: "imagemagick",
    },
    Need {
        command: "dbus-daemon",
        package: "dbus",
    },
    // A window manager, so the desktop test can close the window as a user does.
    Need {
        command: "matchbox-window-manager",
        package: "matchbox-window-manager",
    },
    Need {
        command: "wmctrl",
        package: "wmctrl",
    },
];

/// Installs Debian packages that provide libraries rather than commands (checked with dpkg).
pub fn ensure_libraries(packages: &[&str]) -> Result {
    if cfg!(windows) || !has_command("dpkg-query") {
        return Ok(());
    }
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    install(&missing)
}

/// Real services the tests start in temp folders (sessions shared by several servers).
pub const SERVICES: [Need; 2] = [
    Need {
        command: "redis-server",
        package: "redis-server",
    },
    Need {
        command: "nginx",
        package: "nginx-light",
    },
];

/// The PostgreSQL server (checked with dpkg: Debian keeps initdb and postgres in
/// /usr/lib/postgresql/<version>/bin, and a psql on PATH may be the client alone).
pub const SERVICE_LIBS: [&str; 1] = ["postgresql"];

/// Load generator for `cargo xtask bench`.
pub const BENCH: [Need; 1] = [Need {
    command: "wrk",
    package: "wrk",
}];

pub const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";
/// Wine runs the Windows exes in the tests (`/usr/lib/wine/wine64`, checked with dpkg).
pub const WINE: [&str; 2] = ["wine64", "wine"];
pub const WINDOWS_CROSS: [Need; 1] = [Need {
    command: "x86_64-w64-mingw32-gcc",
    package: "gcc-mingw-w64-x86-64",
}];

pub fn has_command(command: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            let candidate = dir.join(command);
            candidate.is_file() || candidate.with_extension("exe").is_file()
        })
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs the packages of every missing command.
pub fn ensure(needs: &[Need]) -> Result {
    if cfg!(windows) {
        return Ok(());
    }
    let mut missing: Vec<&str> = needs
        .iter()
        .filter(|n| !has_command(n.command))
        .map(|n| n.package)
        .collect();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    install(&missing)
}

pub fn install(packages: &[&str]) -> Result {
    let list = packages.join(" ");
    if !has_command("apt-get") {
        return Err(format!(
            "missing system packages ({list}); install them with your package manager"
        ));
    }
    if !is_root() {
        return Err(format!(
            "missing system packages; run:\n  sudo apt-get update && sudo apt-get install -y {list}"
        ));
    }
    println!("Installing system packages: {list}");
    exec(Command::new("apt-get").arg("update").arg("-qq"))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

pub fn ensure_rust_target(target: &str) -> Result {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("rustup is needed for the {target} target: {e}"))?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    exec(Command::new("rustup").args(["target", "add", target]))
}
