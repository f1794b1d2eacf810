//! Our Windows exes under Wine: prefixes made once per machine (in `$YAM_WINE_DIR`, default
//! `target/wine`), with no `Z:` drive so the exes see nothing of the Linux tree; each test in
//! its own folder under `C:\t\`. Each prefix gets the test-only `bcryptprimitives.dll` in
//! its `system32`, where every Windows 10/11 has the real one (tests/fixtures/wine/README.md),
//! so exes run as copied or installed, with nothing test-only beside them.
//!
//! Two prefixes: programs with windows (the tray) get `desktop`, the rest `headless`. A
//! prefix's desktop process starts with the first program run in it: started by a program
//! without a display, it leaves later programs unable to create windows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::server::Launcher;

const WINDOWS_TARGET: &str = "x86_64-pc-windows-gnu";
const WINE64: &str = "/usr/lib/wine/wine64";
const WINESERVER: &str = "/usr/lib/wine/wineserver";

pub struct Wine {
    prefix: PathBuf,
    /// Where the Windows build put the exes (and `WebView2Loader.dll`).
    windows_bin: PathBuf,
}

/// A folder in the prefix's `C:` drive.
#[derive(Clone, Debug)]
pub struct WinFolder {
    /// Where the tests read and write its files.
    pub linux: PathBuf,
    /// How the Windows programs name it: `C:\t\…`.
    pub windows: String,
}

impl WinFolder {
    /// A file or folder inside, as Windows names it.
    pub fn win(&self, name: &str) -> String {
        format!("{}\\{}", self.windows, name.replace('/', "\\"))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.linux.join(name)
    }
}

/// Where the prefixes and the built helpers live: `$YAM_WINE_DIR`, else `target/wine`.
pub fn wine_dir() -> PathBuf {
    std::env::var_os("YAM_WINE_DIR").map_or_else(|| target_dir().join("wine"), PathBuf::from)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Wine {
    /// The prefix for programs without windows (servers, command-line tools).
    pub fn get() -> &'static Wine {
        static WINE: OnceLock<Wine> = OnceLock::new();
        WINE.get_or_init(|| Wine::prepared("headless"))
    }

    /// The prefix for programs with windows or a tray icon; run them with a display.
    pub fn desktop() -> &'static Wine {
        static WINE: OnceLock<Wine> = OnceLock::new();
        WINE.get_or_init(|| Wine::prepared("desktop"))
    }

    fn prepared(name: &str) -> Wine {
        let wine_dir = wine_dir();
        let windows_bin =
            std::env::var_os("YAM_WINDOWS_BIN_DIR").map_or_else(build_windows_exes, PathBuf::from);
        let prefix = wine_dir.join(name);
        prepare_prefix(&prefix, &build_shim(&wine_dir));
        Wine {
            prefix,
            windows_bin,
        }
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "WINEPREFIX".into(),
                self.prefix.to_string_lossy().into_owned(),
            ),
            ("WINEDEBUG".into(), "-all".into()),
            // No Mono or Gecko installer prompts.
            ("WINEDLLOVERRIDES".into(), "mscoree,mshtml=".into()),
        ]
    }

    /// Runs Windows programs (`wine64 C:\…\x.exe args`).
    pub fn launcher(&self) -> Launcher {
        Launcher {
            program: Some(PathBuf::from(WINE64)),
            args: Vec::new(),
            env: self.env(),
        }
    }

    /// A command for the exe `name` in `folder`.
    pub fn command(&self, folder: &WinFolder, exe: &str) -> Command {
        self.launcher().command(Path::new(&folder.win(exe)))
    }

    /// A new empty folder `C:\t\<name>-<n>`.
    pub fn folder(&self, name: &str) -> WinFolder {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let leaf = format!(
            "{name}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let linux = self.prefix.join("drive_c/t").join(&leaf);
        std::fs::create_dir_all(&linux).expect("create a folder in the prefix");
        WinFolder {
            linux,
            windows: format!("C:\\t\\{leaf}"),
        }
    }

    /// A new folder holding the exes `names` and the loader DLL the tray needs, as an admin
    /// copies them from the zip.
    pub fn folder_with(&self, name: &str, exes: &[&str]) -> WinFolder {
        let folder = self.folder(name);
        for exe in exes {
            let from = self.windows_bin.join(exe);
            std::fs::copy(&from, folder.path(exe))
                .unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        }
        let loader = self.windows_bin.join("WebView2Loader.dll");
        if loader.is_file() {
            std::fs::copy(&loader, folder.path("WebView2Loader.dll")).expect("copy the loader");
        }
        folder
    }

    /// The prefix's `C:` drive.
    pub fn drive_c(&self) -> PathBuf {
        self.prefix.join("drive_c")
    }

    /// Wine's per-user folders, as Windows programs see them in this prefix.
    pub fn user_folder(&self, known: KnownFolder) -> PathBuf {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let profile = self.drive_c().join("users").join(user);
        match known {
            KnownFolder::LocalAppData => profile.join("AppData/Local"),
            KnownFolder::RoamingAppData => profile.join("AppData/Roaming"),
            KnownFolder::StartMenuPrograms => {
                profile.join("AppData/Roaming/Microsoft/Windows/Start Menu/Programs")
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum KnownFolder {
    LocalAppData,
    RoamingAppData,
    StartMenuPrograms,
}

/// A test helper written in C (`tests/fixtures/wine/<name>.c`), built with mingw once.
pub fn helper_exe(name: &str) -> PathBuf {
    let dir = wine_dir();
    let exe = dir.join(format!("{name}.exe"));
    if exe.is_file() {
        return exe;
    }
    std::fs::create_dir_all(&dir).expect("wine folder");
    let tmp = dir.join(format!("{name}.{}.exe", std::process::id()));
    run(
        Command::new("x86_64-w64-mingw32-gcc")
            .args(["-municode", "-O2", "-o"])
            .arg(&tmp)
            .arg(crate::fixture("wine").join(format!("{name}.c"))),
        &format!("building {name}.exe"),
    );
    std::fs::rename(&tmp, &exe).expect("helper in place");
    exe
}

/// Linux pids of the Windows processes whose command line names something in `folder`.
pub fn processes_in(folder: &WinFolder) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (text.contains(&folder.windows) && crate::process_alive(pid))
                .then(|| (pid, text.trim().to_owned()))
        })
        .collect()
}

/// `cargo build` of the three exes for Windows (when `cargo xtask test` did not).
fn build_windows_exes() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "--target", WINDOWS_TARGET])
            .args(["-p", "yam-server", "-p", "yam-supervisor", "-p", "yam-tray"])
            .current_dir(&root),
        "the Windows build",
    );
    target_dir().join(WINDOWS_TARGET).join("debug")
}

/// Makes the prefix once (`wineboot`), removes its `Z:` drive (the whole Linux tree) and
/// puts the shim into its `system32`.
pub fn prepare_prefix(prefix: &Path, shim: &Path) {
    let system_dll = prefix.join("drive_c/windows/system32/bcryptprimitives.dll");
    if system_dll.is_file() {
        return;
    }
    let env = [
        ("WINEPREFIX", prefix.to_string_lossy().into_owned()),
        ("WINEDEBUG", "-all".to_owned()),
        ("WINEDLLOVERRIDES", "mscoree,mshtml=".to_owned()),
    ];
    std::fs::create_dir_all(prefix).expect("prefix folder");
    run(
        Command::new(WINE64)
            .arg("wineboot")
            .arg("--init")
            .envs(env.clone())
            .env_remove("DISPLAY"),
        "wineboot",
    );
    // wineboot ran without a display, and so did the prefix's desktop it started: the next
    // program (a tray test's window) must not join that wineserver, or it can create no window
    // (tao: "subclass_result" assertion, seen once when the tray test followed a fresh prefix).
    run(
        Command::new(WINESERVER).arg("-w").envs(env),
        "waiting for wineboot's wineserver to end",
    );
    let _ = std::fs::remove_file(prefix.join("dosdevices/z:"));
    std::fs::copy(shim, &system_dll).expect("the shim into system32");
}

/// Builds the `bcryptprimitives.dll` stand-in with mingw, once per process: the headless and
/// the desktop prefix are prepared by tests running at the same time, and two builders in one
/// process once shared a temp name (CI: "shim in place: NotFound").
fn build_shim(dir: &Path) -> PathBuf {
    static SHIM: OnceLock<PathBuf> = OnceLock::new();
    SHIM.get_or_init(|| build_shim_now(dir)).clone()
}

fn build_shim_now(dir: &Path) -> PathBuf {
    let fixtures = crate::fixture("wine");
    let dll = dir.join("bcryptprimitives.dll");
    if dll.is_file() {
        return dll;
    }
    std::fs::create_dir_all(dir).expect("wine folder");
    let tmp = dir.join(format!("bcryptprimitives.{}.dll", std::process::id()));
    run(
        Command::new("x86_64-w64-mingw32-gcc")
            .args(["-shared", "-O2", "-o"])
            .arg(&tmp)
            .arg(fixtures.join("bcryptprimitives.c"))
            .arg(fixtures.join("bcryptprimitives.def"))
            .arg("-ladvapi32"),
        "building the bcryptprimitives shim",
    );
    // Another test process may have put its copy in place first: either copy will do.
    if let Err(e) = std::fs::rename(&tmp, &dll) {
        let _ = std::fs::remove_file(&tmp);
        assert!(dll.is_file(), "shim in place: {e}");
    }
    dll
}
