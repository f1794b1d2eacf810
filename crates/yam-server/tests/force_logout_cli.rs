//! `yam-server force-logout` with the server up (control token) and down (folder + marker).

mod common;

use common::*;

#[test]
fn online_force_logout_uses_the_running_server() {
    let (_dir, server) = multiple();
    let mut a = admin(&server);
    let mut b = bob(&server);
    let (ok, out) = builder(&server.data_dir).run_to_end(&["force-logout"], None);
    assert!(ok, "{out}");
    assert!(out.contains("Ended 2 sessions"), "{out}");
    assert_eq!(a.get("/api/session/time-remaining").status, 401);
    assert_eq!(b.get("/api/session/time-remaining").status, 401);
}

#[test]
fn offline_force_logout_clears_the_folder_and_the_marker_is_consumed_at_start() {
    let dir = tempfile::tempdir().expect("tmp");
    let b = builder(dir.path()).arg("--allow-multiple-sessions");
    let mut server = b.spawn();
    let cookies: Vec<String> = (0..3)
        .map(|_| admin(&server).cookie.expect("cookie"))
        .collect();
    assert!(server.stop());
    let (ok, out) = b.run_to_end(&["force-logout"], None);
    assert!(ok, "{out}");
    assert!(
        out.contains("not running: deleted 3 session files"),
        "{out}"
    );
    assert!(dir.path().join("force_session_reset.txt").is_file());
    assert!(session_files(&dir.path().join("sessions")).is_empty());

    let server = b.spawn();
    assert!(
        server
            .output()
            .contains("Force session reset marker detected - clearing all sessions")
    );
    assert!(!dir.path().join("force_session_reset.txt").exists());
    for cookie in &cookies {
        assert_eq!(
            Client::with_cookie(&server.url, cookie)
                .get("/api/session/time-remaining")
                .status,
            401
        );
    }
}

/// A folder someone else prepared: its startup marker names the stranger's address, and its
/// `control-token` is a link to the victim's real token (or the victim's token copied into an
/// owner-only file while the address is not on this computer).
fn planted_folder(url: &str, victim_token: &std::path::Path, link: bool) -> tempfile::TempDir {
    let planted = tempfile::tempdir().expect("tmp");
    std::fs::write(
        planted.path().join("server_startup_marker.txt"),
        format!("url={url}\npid=1\n"),
    )
    .expect("marker");
    let token = planted.path().join("control-token");
    if link {
        std::os::unix::fs::symlink(victim_token, &token).expect("link");
    } else {
        yam_sessions::private::write_private(
            &token,
            &std::fs::read_to_string(victim_token).expect("token"),
        )
        .expect("copy");
    }
    planted
}

#[test]
fn offline_force_logout_never_sends_a_token_to_a_planted_address() {
    let victim = tempfile::tempdir().expect("tmp");
    let secret = "victims-real-control-token-0123456789";
    let victim_token = victim.path().join("control-token");
    yam_sessions::private::write_private(&victim_token, secret).expect("token");

    // A stranger on this computer, and a linked token: the link is refused.
    let stranger = yam_testkit::Stranger::listen([127, 0, 0, 1].into());
    let planted = planted_folder(&stranger.url(), &victim_token, true);
    let (ok, out) = builder(planted.path()).run_to_end(&["force-logout"], None);
    assert!(
        stranger.heard(secret).is_empty(),
        "the real token went to the stranger: {out}"
    );
    assert!(!ok, "{out}");
    assert!(out.contains("is a link"), "{out}");

    // A stranger elsewhere on the network: nothing is sent there at all.
    let Some(ip) = lan_ip() else {
        eprintln!("no network address on this machine: the remote half is not tried");
        return;
    };
    let remote = yam_testkit::Stranger::listen(ip);
    let planted = planted_folder(&remote.url(), &victim_token, false);
    let (ok, out) = builder(planted.path()).run_to_end(&["force-logout"], None);
    assert!(
        remote.heard(secret).is_empty(),
        "the token went to {}: {out}",
        remote.url()
    );
    assert_eq!(remote.requests(), 0, "{out}");
    assert!(!ok, "{out}");
    assert!(out.contains("not on this computer"), "{out}");
}
