//! The Python YAM stand-ins under the supervisor's python profile.

use yam_supervisor::supervisor::Options;

use super::{Harness, copy_dir, free_port, harness_tuned};

/// Which Python stand-in runs as YAM.
#[derive(Clone, Copy)]
pub enum Stand {
    /// Flask-Session files in the YAM folder (`tests/fixtures/yam_app`).
    FlaskSession,
    /// Flask's default signed cookies, as the real YAM (`tests/fixtures/yam_cookie_app`).
    SignedCookie,
}

/// The settings that run the YAM folder `yam` with the test venv's Python.
pub async fn python_settings(yam: &std::path::Path) -> String {
    let python = tokio::task::spawn_blocking(yam_testkit::flask_python)
        .await
        .expect("venv");
    format!(
        "profile = \"python\"\nyam_dir = '{}'\npython = '{}'\n",
        yam.display(),
        python.display()
    )
}

/// A supervisor running the stand-in `stand` as its Python YAM (a copy in a temp folder).
pub async fn python_harness(stand: Stand, tune: impl FnOnce(&mut Options)) -> Harness {
    let dir = tempfile::tempdir().expect("tmp");
    let yam = dir.path().join("YAM");
    let fixture = match stand {
        Stand::FlaskSession => "yam_app",
        Stand::SignedCookie => "yam_cookie_app",
    };
    copy_dir(&yam_testkit::fixture(fixture), &yam).expect("copy the stand-in");
    let settings = python_settings(&yam).await;
    harness_tuned(&settings, free_port(), dir, tune)
}

/// Logs in to a Python stand-in: the `Cookie` header for what its answer set.
pub async fn python_login(port: u16, stand: Stand) -> String {
    tokio::task::spawn_blocking(move || {
        let body = match stand {
            Stand::FlaskSession => {
                serde_json::json!({ "login_id": "admin", "user_id": 1, "password": "yam-password" })
            }
            Stand::SignedCookie => {
                serde_json::json!({ "email": "admin@example.com", "password": "yam-password" })
            }
        };
        let r = reqwest::blocking::Client::new()
            .post(format!("http://127.0.0.1:{port}/login"))
            .json(&body)
            .send()
            .expect("login");
        assert_eq!(r.status().as_u16(), 200);
        let cookies: Vec<String> = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
            .collect();
        assert!(!cookies.is_empty(), "no cookie after login");
        cookies.join("; ")
    })
    .await
    .expect("join")
}
