//! Talking to a running server over HTTP: health for every profile, admin calls (with the
//! control token) for the embedded one.

use std::time::Duration;

use serde_json::Value;

use crate::users::{NewUser, UserChanged, UserPatch, UserView};

pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the server did not answer: {0}")]
    Unreachable(String),
    #[error("the server refused ({status}): {message}")]
    Refused { status: u16, message: String },
}

#[derive(Clone)]
pub struct ServerApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl ServerApi {
    pub fn new(base: &str, token: &str) -> Self {
        let http = reqwest::Client::builder()
            .timeout(ADMIN_TIMEOUT)
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<Value, ApiError> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| ApiError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ApiError::Refused {
                status,
                message: body["message"].as_str().unwrap_or("no message").to_owned(),
            })
        }
    }

    /// `handover`: a newer server on the same socket takes over (it leaves the marker files
    /// and the control token to that one).
    pub async fn shutdown(&self, handover: bool) -> Result<(), ApiError> {
        let query = if handover { "?handover=1" } else { "" };
        self.send(
            self.http
                .post(format!("{}/api/admin/shutdown{query}", self.base)),
        )
        .await
        .map(|_| ())
    }

    pub async fn clear_sessions(&self) -> Result<u64, ApiError> {
        let body = self
            .send(
                self.http
                    .post(format!("{}/admin/clear-sessions", self.base)),
            )
            .await?;
        Ok(body["sessions_ended"].as_u64().unwrap_or(0))
    }

    /// `Ok(false)` when the session had already ended.
    pub async fn revoke(&self, key: &str) -> Result<bool, ApiError> {
        match self
            .send(
                self.http
                    .delete(format!("{}/api/admin/sessions/{key}", self.base)),
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(ApiError::Refused { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `/api/admin/users/<name>`, the name one path segment (encoded by `url`).
    fn user_url(&self, name: &str) -> Result<reqwest::Url, ApiError> {
        let invalid = |e: String| ApiError::Unreachable(format!("bad server address: {e}"));
        let mut url = reqwest::Url::parse(&format!("{}/api/admin/users", self.base))
            .map_err(|e| invalid(e.to_string()))?;
        url.path_segments_mut()
            .map_err(|()| invalid(self.base.clone()))?
            .push(name);
        Ok(url)
    }

    pub async fn users(&self) -> Result<Vec<UserView>, ApiError> {
        let body = self
            .send(self.http.get(format!("{}/api/admin/users", self.base)))
            .await?;
        serde_json::from_value(body["users"].clone()).map_err(|e| ApiError::Refused {
            status: 502,
            message: format!("unexpected users list: {e}"),
        })
    }

    pub async fn add_user(&self, user: &NewUser) -> Result<UserChanged, ApiError> {
        let body = self
            .send(
                self.http
                    .post(format!("{}/api/admin/users", self.base))
                    .json(user),
            )
            .await?;
        Ok(serde_json::from_value(body).unwrap_or_default())
    }

    pub async fn update_user(
        &self,
        name: &str,
        patch: &UserPatch,
    ) -> Result<UserChanged, ApiError> {
        let body = self
            .send(self.http.patch(self.user_url(name)?).json(patch))
            .await?;
        Ok(serde_json::from_value(body).unwrap_or_default())
    }

    pub async fn remove_user(&self, name: &str) -> Result<UserChanged, ApiError> {
        let body = self.send(self.http.delete(self.user_url(name)?)).await?;
        Ok(serde_json::from_value(body).unwrap_or_default())
    }

    pub async fn sessions(&self, page: usize, per_page: usize) -> Result<Value, ApiError> {
        self.send(self.http.get(format!(
            "{}/api/admin/sessions?page={page}&per_page={per_page}",
            self.base
        )))
        .await
    }
}

/// True when `url` answers 200 within the health timeout.
pub async fn healthy(http: &reqwest::Client, url: &str) -> bool {
    matches!(
        tokio::time::timeout(HEALTH_TIMEOUT, http.get(url).send()).await,
        Ok(Ok(resp)) if resp.status().as_u16() == 200
    )
}

/// Whether something accepts connections where `url` points (host and port only): the check
/// that sends YAM no request.
pub async fn port_open(url: &str) -> bool {
    let Some(addr) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| Some(format!("{}:{}", u.host_str()?, u.port_or_known_default()?)))
    else {
        return false;
    };
    matches!(
        tokio::time::timeout(HEALTH_TIMEOUT, tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

pub fn health_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(HEALTH_TIMEOUT)
        .no_proxy()
        .build()
        .unwrap_or_default()
}
