//! Free disk space, printed at the start of a test run and next to any failure: a build of
//! everything (Tauri included) needs several GB, and a disk that fills up mid-run otherwise
//! shows up as some unrelated tool failing.

use std::path::Path;
use std::process::Command;

/// Below this much free space before the build the run warns up front: a clean run leaves
/// 4.8 GiB in target/ (measured 2026-11-28), plus temp folders, the venv and npm.
const WANTED_GIB: f64 = 8.0;

/// "disk: 43.2 GiB free of 252.0 GiB at /work/main/target" (or why it is not known).
pub fn free_space_line(path: &Path) -> String {
    describe(path, free_and_total_gib(path))
}

/// Prints the free space, with a warning when it is short of what a full run uses.
pub fn report(path: &Path) {
    let reading = free_and_total_gib(path);
    println!("{}", describe(path, reading));
    if let Some((free, _)) = reading
        && free < WANTED_GIB
    {
        println!(
            "warning: under {WANTED_GIB:.0} GiB free; a full test run (debug build with \
             Tauri, bench smoke, windows build) writes ~5 GiB into target/ and more in temp \
             folders"
        );
    }
}

fn describe(path: &Path, reading: Option<(f64, f64)>) -> String {
    match reading {
        Some((free, total)) => format!(
            "disk: {free:.1} GiB free of {total:.1} GiB at {}",
            path.display()
        ),
        None => format!("disk: free space at {} not known", path.display()),
    }
}

fn free_and_total_gib(path: &Path) -> Option<(f64, f64)> {
    // The folder may not exist yet (a clean clone): ask about the nearest one that does.
    let existing = path.ancestors().find(|p| p.exists())?;
    let out = Command::new("df").arg("-Pk").arg(existing).output().ok()?;
    parse_df(&String::from_utf8_lossy(&out.stdout))
}

/// Parses POSIX `df -Pk` output: the second line's total and available 1K-blocks.
fn parse_df(text: &str) -> Option<(f64, f64)> {
    let fields: Vec<&str> = text.lines().nth(1)?.split_whitespace().collect();
    let total: f64 = fields.get(1)?.parse().ok()?;
    let free: f64 = fields.get(3)?.parse().ok()?;
    let gib = 1024.0 * 1024.0;
    Some((free / gib, total / gib))
}

#[cfg(test)]
mod tests {
    use super::parse_df;

    #[test]
    fn reads_posix_df_output() {
        let text = "Filesystem     1024-blocks      Used Available Capacity Mounted on\n\
                    /dev/vda        263174212  51380112 45000000      54% /\n";
        let (free, total) = parse_df(text).expect("a well-formed df line");
        assert!((free - 42.915).abs() < 0.01, "{free}");
        assert!((total - 250.98).abs() < 0.01, "{total}");
    }

    #[test]
    fn garbage_is_unknown_not_zero() {
        assert_eq!(parse_df(""), None);
        assert_eq!(parse_df("header\nfs not-a-number x y\n"), None);
    }
}
