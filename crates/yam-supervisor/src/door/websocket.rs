//! Relaying an upgraded connection (WebSocket, as YAM's Flask-SocketIO uses) between the
//! browser and the server behind the door. When the server goes away (a restart retires it)
//! the browser gets a proper close frame, "service restart", and can reconnect at once.

use std::time::Duration;

use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frames::{CLOSE_SERVICE_RESTART, FrameTracker};

/// After one side has ended, the other gets this long to finish.
const OTHER_SIDE: Duration = Duration::from_secs(10);

pub async fn relay(client: Upgraded, server: Upgraded) {
    let (mut client_read, mut client_write) = tokio::io::split(TokioIo::new(client));
    let (mut server_read, mut server_write) = tokio::io::split(TokioIo::new(server));
    let upstream = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let mut frames = FrameTracker::default();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    frames.feed(&buf[..n]);
                    if client_write.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }
        }
        if frames.at_boundary() && !frames.closed_by_server() {
            let _ = client_write.write_all(&CLOSE_SERVICE_RESTART).await;
        }
        let _ = client_write.shutdown().await;
    };
    tokio::pin!(upstream, downstream);
    tokio::select! {
        () = &mut upstream => {
            let _ = tokio::time::timeout(OTHER_SIDE, downstream).await;
        }
        () = &mut downstream => {
            let _ = tokio::time::timeout(OTHER_SIDE, upstream).await;
        }
    }
}
