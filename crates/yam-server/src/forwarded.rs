//! The client's address behind a reverse proxy. Only a proxy named with `--trusted-proxy` may
//! say who the client is (`X-Forwarded-For`); anyone else's header is ignored. Handlers then
//! see the client's address, so login throttling counts clients, not the proxy, and the
//! control token (accepted from loopback only) is refused from clients on other machines
//! even though the proxy itself connects from loopback.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    pub fn new(proxies: Vec<IpAddr>) -> Self {
        Self(proxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The proxies' addresses (they carry everyone's connections: no per-address share).
    pub fn addresses(&self) -> Vec<IpAddr> {
        self.0.clone()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }

    /// The client as a trusted proxy reports it: the right-most address in `X-Forwarded-For`
    /// that is not itself a trusted proxy (left of it, anyone may have written anything).
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> SocketAddr {
        if !self.trusts(peer.ip()) {
            return peer;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            match hop.parse::<IpAddr>() {
                Ok(ip) if self.trusts(ip) => continue,
                Ok(ip) => return SocketAddr::new(ip, 0),
                // A garbled hop: nothing to its left can be believed; the proxy is the client.
                Err(_) => return peer,
            }
        }
        peer
    }
}

/// Set on a request whose client a trusted proxy named: the proxy's own address (login
/// throttling watches it for invented client addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViaProxy(pub IpAddr);

/// Replaces the connection's address with the client's, for every handler after it.
pub async fn resolve_client(
    State(proxies): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    {
        let client = proxies.client(peer, request.headers());
        if client != peer {
            request.extensions_mut().insert(ConnectInfo(client));
            request.extensions_mut().insert(ViaProxy(peer.ip()));
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("header"));
        }
        h
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxies = TrustedProxies::new(vec!["127.0.0.1".parse().expect("ip")]);
        let via_proxy = addr("127.0.0.1:40000");
        assert_eq!(
            proxies.client(via_proxy, &headers(&["203.0.113.7"])),
            addr("203.0.113.7:0")
        );
        // The client wrote a fake first hop; the proxy appended the real one.
        assert_eq!(
            proxies.client(via_proxy, &headers(&["10.0.0.1, 198.51.100.2"])),
            addr("198.51.100.2:0")
        );
        assert_eq!(
            proxies.client(via_proxy, &headers(&["198.51.100.2", "127.0.0.1"])),
            addr("198.51.100.2:0")
        );
        // Anyone else's header is ignored.
        let direct = addr("192.0.2.9:5555");
        assert_eq!(proxies.client(direct, &headers(&["127.0.0.1"])), direct);
        // No header, or garbage: the proxy itself.
        assert_eq!(proxies.client(via_proxy, &HeaderMap::new()), via_proxy);
        assert_eq!(
            proxies.client(via_proxy, &headers(&["not-an-ip"])),
            via_proxy
        );
        assert_eq!(
            TrustedProxies::default().client(via_proxy, &headers(&["1.2.3.4"])),
            via_proxy
        );
    }
}
