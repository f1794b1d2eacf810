//! Our Windows exes, run under Wine: `yam-server.exe`, `yamctl.exe` and `yam-tray.exe` as an
//! admin copies them into a folder (with the test-only `bcryptprimitives.dll` beside them:
//! tests/fixtures/wine/README.md). The prefix has no `Z:` drive: the exes see nothing of the
//! repository. A stage of `cargo xtask test` of its own (test names start with `wine_`).

mod installer;
mod server;
mod tray;
mod yamctl;

use std::time::Duration;

use yam_testkit::{Client, ServerBuilder, WinFolder, Wine};

/// A `yam-server.exe` in `folder` with its data in `folder\<data>`.
fn server(folder: &WinFolder, data: &str) -> ServerBuilder {
    ServerBuilder::new(folder.win("yam-server.exe"), folder.path(data))
        .launched_by(Wine::get().launcher(), &folder.win(data))
}

/// Stops a server gracefully through its admin API (a signal cannot: Windows programs under
/// Wine just end), and waits for it to exit.
fn stop(server: &mut yam_testkit::ServerProcess) {
    let mut c = Client::new(&server.url);
    c.bearer = Some(server.control_token());
    assert_eq!(c.post_empty("/api/admin/shutdown").status, 202);
    assert!(
        yam_testkit::wait_until(Duration::from_secs(30), || !server.is_running()),
        "the server did not stop:\n{}",
        server.output()
    );
}

fn healthy(url: &str) -> bool {
    reqwest::blocking::Client::new()
        .get(format!("{url}/api/health"))
        .timeout(Duration::from_secs(2))
        .send()
        .is_ok_and(|r| r.status().is_success())
}
