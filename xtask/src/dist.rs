//! `cargo xtask dist`: the Windows downloads in `target/dist/` — a portable zip, an NSIS
//! installer (per user, no admin rights) and `SHA256SUMS` — checked for what they hold and
//! for the test-only Wine shim, which must never ship.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::packages::{self, Need};
use crate::{Result, cargo, exec, root, target_dir};

const EXES: [&str; 3] = ["yam-tray.exe", "yam-server.exe", "yamctl.exe"];
const LOADER: &str = "WebView2Loader.dll";
/// What the zip's folder and the installed folder hold (the installer adds Uninstall.exe).
pub const SHIPPED: [&str; 7] = [
    "yam-tray.exe",
    "yam-server.exe",
    "yamctl.exe",
    LOADER,
    "README.txt",
    "LICENSE.txt",
    "THIRD-PARTY-NOTICES.txt",
];
/// The Wine tests' stand-in for a Windows system DLL (tests/fixtures/wine).
const NEVER_SHIPPED: &str = "bcryptprimitives.dll";

const TOOLS: [Need; 3] = [
    Need {
        command: "makensis",
        package: "nsis",
    },
    Need {
        command: "zip",
        package: "zip",
    },
    Need {
        command: "7z",
        package: "p7zip-full",
    },
];

/// The three artefacts of one build.
pub struct Dist {
    pub zip: PathBuf,
    pub setup: PathBuf,
    pub sums: PathBuf,
}

pub fn dir() -> PathBuf {
    target_dir().join("dist")
}

pub fn run(flags: &[String]) -> Result {
    let debug = flags.iter().any(|f| f == "--debug");
    let dist = build(debug)?;
    println!("\nWrote (in {}):", dir().display());
    for file in [&dist.zip, &dist.setup, &dist.sums] {
        let size = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
        println!(
            "  {:>12} bytes  {}",
            size,
            file.file_name().unwrap_or_default().to_string_lossy()
        );
    }
    println!("\nZip contents:\n{}", listing(&dist.zip)?);
    println!("Installer contents:\n{}", listing(&dist.setup)?);
    Ok(())
}

/// Builds the exes (release, or debug for the tests) and makes the artefacts.
pub fn build(debug: bool) -> Result<Dist> {
    packages::ensure(&packages::BUILD)?;
    packages::ensure(&packages::WINDOWS_CROSS)?;
    packages::ensure_rust_target(packages::WINDOWS_TARGET)?;
    packages::ensure(&TOOLS)?;
    let profile = if debug { "debug" } else { "release" };
    let mut build = cargo();
    build.args(["build", "--quiet", "--target", packages::WINDOWS_TARGET]);
    build.args(["-p", "yam-server", "-p", "yam-supervisor", "-p", "yam-tray"]);
    if !debug {
        build.arg("--release");
    }
    exec(&mut build)?;
    let bin = target_dir().join(packages::WINDOWS_TARGET).join(profile);
    let version = env!("CARGO_PKG_VERSION");
    let out = dir();
    let _ = std::fs::remove_dir_all(&out);
    let stage = out.join("stage").join("YAM Tray");
    std::fs::create_dir_all(&stage).map_err(|e| format!("{}: {e}", stage.display()))?;
    for file in EXES.iter().chain([&LOADER]) {
        copy(&bin.join(file), &stage.join(file))?;
    }
    for exe in EXES {
        check_resources(&stage.join(exe))?;
    }
    let readme = read(&root().join("xtask/windows/README.txt"))?.replace("@VERSION@", version);
    write(&stage.join("README.txt"), &crlf(&readme))?;
    write(
        &stage.join("LICENSE.txt"),
        &crlf(&read(&root().join("LICENSE"))?),
    )?;
    write(
        &stage.join("THIRD-PARTY-NOTICES.txt"),
        &crlf(&third_party_notices()?),
    )?;

    let zip = out.join(format!("YAM-Tray-{version}-windows-x64.zip"));
    exec(
        Command::new("zip")
            .args(["-q", "-r", "-9"])
            .arg(&zip)
            .arg("YAM Tray")
            .current_dir(stage.parent().unwrap_or(&out)),
    )?;
    let setup = out.join(format!("YAM-Tray-{version}-setup.exe"));
    exec(
        Command::new("makensis")
            .args(["-V2", "-NOCD"])
            .arg(format!("-DVERSION={version}"))
            .arg(format!("-DSTAGE={}", stage.display()))
            .arg(format!("-DOUTFILE={}", setup.display()))
            .arg(format!(
                "-DICON={}",
                root().join("icons/icon.ico").display()
            ))
            // Debug exes are large and only tested: fast compression.
            .arg(format!(
                "-DCOMPRESSOR={}",
                if debug { "zlib" } else { "lzma" }
            ))
            .arg(root().join("xtask/windows/yam-tray.nsi")),
    )?;
    for artefact in [&zip, &setup] {
        check_contents(artefact)?;
    }
    let sums = out.join("SHA256SUMS");
    let hashed = Command::new("sha256sum")
        .arg(zip.file_name().unwrap_or_default())
        .arg(setup.file_name().unwrap_or_default())
        .current_dir(&out)
        .output()
        .map_err(|e| format!("sha256sum: {e}"))?;
    if !hashed.status.success() {
        return Err("sha256sum failed".into());
    }
    std::fs::write(&sums, &hashed.stdout).map_err(|e| format!("{}: {e}", sums.display()))?;
    let _ = std::fs::remove_dir_all(out.join("stage"));
    Ok(Dist { zip, setup, sums })
}

/// `7z l` of a zip or an NSIS installer.
fn listing(archive: &Path) -> Result<String> {
    let out = Command::new("7z")
        .arg("l")
        .arg(archive)
        .output()
        .map_err(|e| format!("7z: {e}"))?;
    if !out.status.success() {
        return Err(format!("7z cannot list {}", archive.display()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // The table between the two dashed lines.
    Ok(text
        .lines()
        .skip_while(|l| !l.starts_with("-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----"))
        .map(|l| format!("  {l}\n"))
        .collect())
}

/// An exe carries version information and the app icon (`.rsrc` as 7z lists it).
fn check_resources(exe: &Path) -> Result {
    let list = listing(exe)?;
    for (what, entry) in [
        ("version information", ".rsrc/version.txt"),
        ("icon", ".rsrc/ICON/"),
    ] {
        if !list.contains(entry) {
            return Err(format!("{} has no {what}:\n{list}", exe.display()));
        }
    }
    Ok(())
}

/// Every shipped file is in the artefact, and nothing of the test shim.
fn check_contents(archive: &Path) -> Result {
    let list = listing(archive)?;
    let lower = list.to_lowercase();
    if lower.contains(NEVER_SHIPPED) {
        return Err(format!(
            "{} contains {NEVER_SHIPPED}, the Wine tests' stand-in: it must never ship",
            archive.display()
        ));
    }
    for file in SHIPPED {
        if !lower.contains(&file.to_lowercase()) {
            return Err(format!("{} lacks {file}:\n{list}", archive.display()));
        }
    }
    Ok(())
}

/// Our licence, WebView2Loader.dll's, and the crates compiled into the exes with theirs.
fn third_party_notices() -> Result<String> {
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--locked"])
        .args(["--filter-platform", packages::WINDOWS_TARGET])
        .output()
        .map_err(|e| format!("cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))?;
    let crates = shipped_crates(&meta);
    let mut text = String::from(
        "Third-party software in YAM Tray for Windows\n\
         =============================================\n\n\
         WebView2Loader.dll: Microsoft Edge WebView2 SDK loader, (c) Microsoft Corporation,\n\
         redistributed under the SDK's licence (BSD 3-Clause), as shipped in the\n\
         webview2-com-sys crate. See https://www.nuget.org/packages/Microsoft.Web.WebView2\n\n\
         The programs are built from these Rust crates (name, version, licence; each\n\
         crate's full licence text is in its source at https://crates.io):\n\n",
    );
    for (name, version, license) in crates {
        text.push_str(&format!("  {name} {version}: {license}\n"));
    }
    Ok(text)
}

/// Crates reached through normal (not dev) dependencies from the three packages.
fn shipped_crates(meta: &serde_json::Value) -> Vec<(String, String, String)> {
    use std::collections::{BTreeSet, HashMap};
    let packages: HashMap<&str, &serde_json::Value> = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?, p)))
        .collect();
    let nodes: HashMap<&str, &serde_json::Value> = meta["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let mut todo: Vec<&str> = packages
        .iter()
        .filter(|(_, p)| {
            matches!(
                p["name"].as_str(),
                Some("yam-server" | "yam-supervisor" | "yam-tray")
            )
        })
        .map(|(id, _)| *id)
        .collect();
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        let deps = nodes.get(id).and_then(|n| n["deps"].as_array());
        for dep in deps.into_iter().flatten() {
            let normal = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"] == "build");
            if let (true, Some(pkg)) = (normal, dep["pkg"].as_str()) {
                todo.push(pkg);
            }
        }
    }
    let mut crates: Vec<_> = seen
        .into_iter()
        .filter_map(|id| packages.get(id))
        .filter(|p| p["source"].is_string())
        .map(|p| {
            (
                p["name"].as_str().unwrap_or("?").to_owned(),
                p["version"].as_str().unwrap_or("?").to_owned(),
                p["license"].as_str().unwrap_or("see the crate").to_owned(),
            )
        })
        .collect();
    crates.sort();
    crates.dedup();
    crates
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Windows line ends, for Notepad.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}
