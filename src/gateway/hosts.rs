//! Which upstream hosts a `custom_host` may point at. Private, loopback, link-local and
//! cloud-metadata addresses are refused unless the operator trusts the host
//! (`catalog serve --trusted-custom-host HOST[:PORT]`): an admin who can edit an
//! integration must not be able to make the server call into its own network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::error::GatewayError;

/// `HOST` or `HOST:PORT` the operator trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedHost {
    host: String,
    port: Option<u16>,
}

impl FromStr for TrustedHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let t = text.trim();
        let bad = || {
            format!("`{text}` is not HOST or HOST:PORT (e.g. `127.0.0.1:9000`, `vllm.internal`)")
        };
        if t.is_empty() || t.contains('/') || t.contains(char::is_whitespace) {
            return Err(bad());
        }
        // `[::1]:8000`, `::1`, `host:8000`, `host`.
        let (host, port) = if let Some(rest) = t.strip_prefix('[') {
            let (h, after) = rest.split_once(']').ok_or_else(bad)?;
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p.parse().map_err(|_| bad())?),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (h.to_owned(), port)
        } else if t.matches(':').count() == 1 {
            let (h, p) = t.split_once(':').ok_or_else(bad)?;
            (h.to_owned(), Some(p.parse().map_err(|_| bad())?))
        } else {
            (t.to_owned(), None)
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(TrustedHost {
            host: host.to_ascii_lowercase(),
            port,
        })
    }
}

impl TrustedHost {
    fn matches(&self, host: &str, port: u16) -> bool {
        self.names(host) && self.port.is_none_or(|p| p == port)
    }

    /// Whether this names `host`, on whichever port (a name's final dot aside).
    fn names(&self, host: &str) -> bool {
        self.host
            .trim_end_matches('.')
            .eq_ignore_ascii_case(host.trim_end_matches('.'))
    }
}

/// IPv4 ranges that IANA's special-purpose registry (RFC 6890 and its updates) does not
/// mark globally reachable, or that are not unicast: what no public upstream has.
fn v4_private(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_loopback() // 127/8
        || ip.is_link_local() // 169.254/16
        || ip.is_broadcast()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a, b, c) == (192, 0, 0) // IETF protocol assignments
        || (a, b, c) == (192, 0, 2) // documentation (TEST-NET-1)
        || (a, b, c) == (192, 88, 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a, b, c) == (198, 51, 100) // documentation (TEST-NET-2)
        || (a, b, c) == (203, 0, 113) // documentation (TEST-NET-3)
        || ip == Ipv4Addr::new(168, 63, 129, 16) // Azure's platform endpoint (WireServer)
        || a >= 224 // multicast, and reserved
}

/// The IPv4 address an IPv6 address carries, where the network reaches it as that
/// IPv4 address: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64
/// (`64:ff9b::a.b.c.d`) and 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, ..] => Some(low()),
        [0, 0, 0, 0, 0, 0, ..] if !ip.is_loopback() && !ip.is_unspecified() => Some(low()),
        [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// IPv6 ranges not globally reachable (IANA's special-purpose registry), or not unicast;
/// an address carrying an IPv4 address is judged by it.
fn v6_private(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return v4_private(v4);
    }
    let s = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 (64:ff9b:1::/48)
        || (s[0] == 0x100 && s[1..4] == [0, 0, 0]) // discard-only (100::/64)
        || (s[0] == 0x2001 && s[1] < 0x200) // IETF protocol assignments, Teredo
        || (s[0] == 0x2001 && s[1] == 0xdb8) // documentation
        || (s[0] & 0xfff0) == 0x3ff0 // documentation (3fff::/20)
        || s[0] == 0x5f00 // segment routing (5f00::/16)
        || s[0..4] == [0x100, 0, 0, 1] // dummy prefix (100:0:0:1::/64)
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] & 0xff00) == 0xff00 // multicast
}

/// Whether an address is one a public upstream never has.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_private(v4),
        IpAddr::V6(v6) => v6_private(v6),
    }
}

fn internal_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || [".localhost", ".internal", ".local", ".localdomain"]
            .iter()
            .any(|s| h.ends_with(s))
        || h == "metadata"
}

/// The host and port of a `custom_host` URL.
struct Address {
    host: String,
    port: u16,
}

impl Address {
    fn of(url: &str, slug: &str) -> Result<Address, GatewayError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            GatewayError::invalid(format!(
                "the `custom_host` of AI provider `@{slug}` is not a URL ({e}); an admin can fix it with `catalog integrations update`"
            ))
        })?;
        Ok(Address {
            host: parsed
                .host_str()
                .unwrap_or("")
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim_end_matches('.')
                .to_owned(),
            port: parsed.port_or_known_default().unwrap_or(80),
        })
    }

    fn refused(&self, slug: &str, why: &str) -> GatewayError {
        let Address { host, port } = self;
        // As `--trusted-custom-host` reads it back: an IPv6 address in brackets.
        let host = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        GatewayError::new(
            axum::http::StatusCode::FORBIDDEN,
            "custom_host_not_allowed_error",
            format!(
                "the `custom_host` of AI provider `@{slug}` points at {why} (`{host}:{port}`), which the gateway does not call unless the operator trusts it: `catalog serve --trusted-custom-host {host}:{port}` (or CATALOG_TRUSTED_CUSTOM_HOSTS)"
            ),
        )
        .exception()
    }
}

const RESOLVES_PRIVATE: &str = "a host that resolves to a private address";

/// Checks the host of `url` (a `custom_host`) against the trust rules, without resolving
/// it: the gateway's connections resolve names through [`GuardedResolver`], which refuses
/// a private address when the connection is made.
fn check_unresolved(
    url: &str,
    trusted: &[TrustedHost],
    slug: &str,
) -> Result<Address, GatewayError> {
    let address = Address::of(url, slug)?;
    let (host, port) = (&address.host, address.port);
    if trusted.iter().any(|t| t.matches(host, port)) {
        return Ok(address);
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return if is_private(ip) {
            Err(address.refused(slug, "a private, loopback or link-local address"))
        } else {
            Ok(address)
        };
    }
    if internal_name(host) {
        return Err(address.refused(slug, "an internal host name"));
    }
    Ok(address)
}

/// What the trust rules say of `url` (a `custom_host`) without resolving it: refused, or
/// let through to a connection whose resolver checks the addresses (see [`CustomClients`]).
pub fn verdict(url: &str, trusted: &[TrustedHost], slug: &str) -> Result<(), GatewayError> {
    check_unresolved(url, trusted, slug).map(drop)
}

/// Checks the host of `url` (a `custom_host`) against the trust rules, resolving a host
/// name too: to explain a call that is not made, or before a call whose connection will
/// not resolve the name itself (see [`verdict`] and [`proxied`]).
pub async fn check_resolving(
    url: &str,
    trusted: &[TrustedHost],
    slug: &str,
) -> Result<(), GatewayError> {
    let address = check_unresolved(url, trusted, slug)?;
    let trusted_here = trusted
        .iter()
        .any(|t| t.matches(&address.host, address.port));
    if trusted_here || address.host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    check_addresses(&address, slug).await
}

async fn check_addresses(address: &Address, slug: &str) -> Result<(), GatewayError> {
    let addresses = tokio::net::lookup_host((address.host.as_str(), address.port))
        .await
        .map_err(|e| {
            GatewayError::upstream(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("cannot resolve the `custom_host` of AI provider `@{slug}` ({e})"),
            )
        })?;
    for a in addresses {
        if is_private(a.ip()) {
            return Err(address.refused(slug, RESOLVES_PRIVATE));
        }
    }
    Ok(())
}

/// Resolves the names of `custom_host` upstreams as their connections are opened, and
/// refuses a name with a private address unless it is one of `trusted`: the addresses
/// checked are the addresses called, so a name cannot resolve to a public address for a
/// check and to a private one for the call. A resolver is not told the port: each one
/// serves connections to the ports its names are trusted on (see [`CustomClients`]).
pub struct GuardedResolver {
    trusted: Vec<TrustedHost>,
}

impl GuardedResolver {
    fn new(trusted: Vec<TrustedHost>) -> GuardedResolver {
        GuardedResolver { trusted }
    }
}

/// The connection pools for `custom_host` upstreams: one whose resolver trusts the names
/// the operator trusts on every port, and one for each name trusted on one port only,
/// used for that port alone. A name trusted on port 8000 is therefore checked like any
/// other on port 9000, when the connection is made. Every pool's resolver trusts the
/// operator's proxies (see [`proxy_hosts`]): through a proxy, the upstream's own name is
/// checked before each call instead ([`check_resolving`]).
pub struct CustomClients {
    any_port: reqwest::Client,
    one_port: Vec<(TrustedHost, reqwest::Client)>,
}

impl CustomClients {
    /// `builder` makes each pool's client, to which the pool's resolver is added.
    pub fn new(
        trusted: &[TrustedHost],
        proxies: &[TrustedHost],
        builder: impl Fn() -> reqwest::ClientBuilder,
    ) -> reqwest::Result<CustomClients> {
        let guarded = |mut names: Vec<TrustedHost>| {
            names.extend_from_slice(proxies);
            builder()
                .dns_resolver(std::sync::Arc::new(GuardedResolver::new(names)))
                .build()
        };
        let any_port = trusted
            .iter()
            .filter(|t| t.port.is_none())
            .cloned()
            .collect();
        let one_port = trusted
            .iter()
            .filter(|t| t.port.is_some() && t.host.parse::<IpAddr>().is_err())
            .map(|t| Ok((t.clone(), guarded(vec![t.clone()])?)))
            .collect::<reqwest::Result<_>>()?;
        Ok(CustomClients {
            any_port: guarded(any_port)?,
            one_port,
        })
    }

    /// The pool that calls `url`.
    pub fn for_url(&self, url: &reqwest::Url) -> &reqwest::Client {
        let host = url.host_str().unwrap_or("");
        let port = url.port_or_known_default().unwrap_or(80);
        self.one_port
            .iter()
            .find(|(t, _)| t.matches(host, port))
            .map_or(&self.any_port, |(_, client)| client)
    }
}

/// A name [`GuardedResolver`] refused: it resolves to a private address.
#[derive(Debug)]
pub struct PrivateName(String);

impl std::fmt::Display for PrivateName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` resolves to a private address", self.0)
    }
}

impl std::error::Error for PrivateName {}

/// A name [`GuardedResolver`] could not resolve.
#[derive(Debug)]
pub struct Unresolved(String, std::io::Error);

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` does not resolve: {}", self.0, self.1)
    }
}

impl std::error::Error for Unresolved {}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let trusted = self.trusted.iter().any(|t| t.names(&host));
        Box::pin(async move {
            let looked: std::io::Result<Vec<std::net::SocketAddr>> =
                tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map(Iterator::collect);
            let addresses = match looked {
                Ok(a) => a,
                Err(e) => return Err(Box::new(Unresolved(host, e)) as _),
            };
            if !trusted && addresses.iter().any(|a| is_private(a.ip())) {
                return Err(Box::new(PrivateName(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The answer to a call whose connection [`GuardedResolver`] refused, if `e` is one:
/// `Ok` a name with a private address (nothing was called), `Err` a name that does not
/// resolve.
pub fn refused_at_connect(
    e: &reqwest::Error,
    url: &str,
    slug: &str,
) -> Option<Result<GatewayError, GatewayError>> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<PrivateName>() {
            let address = Address::of(url, slug).ok()?;
            return Some(Ok(address.refused(slug, RESOLVES_PRIVATE)));
        }
        if let Some(u) = s.downcast_ref::<Unresolved>() {
            return Some(Err(GatewayError::upstream(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("cannot resolve the `custom_host` of AI provider `@{slug}` ({u})"),
            )));
        }
        source = s.source();
    }
    None
}

/// The proxies the HTTP client follows: the values of `HTTP_PROXY`, `HTTPS_PROXY` and
/// `ALL_PROXY` (either case) that are set.
pub fn proxy_settings() -> Vec<String> {
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"]
        .iter()
        .flat_map(|v| [v.to_string(), v.to_ascii_lowercase()])
        .filter_map(|name| std::env::var(name).ok())
        .filter(|value| !value.trim().is_empty())
        .collect()
}

/// Whether the gateway's calls may go through a proxy: the proxy resolves names then, so
/// the gateway resolves a `custom_host` name itself before each call.
pub fn proxied() -> bool {
    !proxy_settings().is_empty()
}

/// The hosts of the proxies `settings` name (`http://user:pass@proxy:3128`, or
/// `proxy:3128` as the HTTP client reads it too). The operator chose them, so a proxy on a
/// private address is reached like any trusted host.
pub fn proxy_hosts(settings: &[String]) -> Vec<TrustedHost> {
    settings
        .iter()
        .filter_map(|s| {
            let s = s.trim();
            let url = reqwest::Url::parse(s)
                .ok()
                .filter(|u| u.has_host())
                .or_else(|| reqwest::Url::parse(&format!("http://{s}")).ok())?;
            let host = url
                .host_str()?
                .trim_start_matches('[')
                .trim_end_matches(']');
            Some(TrustedHost {
                host: host.to_ascii_lowercase(),
                port: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_hosts_parse() {
        let t: TrustedHost = "127.0.0.1:9000".parse().unwrap();
        assert!(t.matches("127.0.0.1", 9000) && !t.matches("127.0.0.1", 9001));
        let t: TrustedHost = "[::1]:8000".parse().unwrap();
        assert!(t.matches("::1", 8000));
        let t: TrustedHost = "VLLM.internal".parse().unwrap();
        assert!(t.matches("vllm.internal", 443));
        for bad in ["", "http://x", "a:b", "[::1", "x y"] {
            assert!(bad.parse::<TrustedHost>().is_err(), "{bad}");
        }
    }

    #[test]
    fn private_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.169.254",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "0.0.0.0",
            // Reserved, documentation, benchmarking, multicast.
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6 forms that carry a private IPv4 address.
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "2002:a00:1::1",
            // IPv6 ranges of their own.
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "fec0::1",
            "ff02::1",
            "ff05::1:3",
            "3fff::1",
            "5f00::1",
            "100:0:0:1::1",
            "168.63.129.16",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "2606:4700::1",
            "198.20.0.1",
            "223.255.255.255",
            "192.0.3.1",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2001:4860:4860::8888",
        ] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_trusted() {
        let e = verdict("http://127.0.0.1:9000/v1", &[], "p").unwrap_err();
        assert!(
            e.message.contains("--trusted-custom-host 127.0.0.1:9000"),
            "{}",
            e.message
        );
        let trusted = vec!["127.0.0.1:9000".parse().unwrap()];
        assert!(verdict("http://127.0.0.1:9000/v1", &trusted, "p").is_ok());
        assert!(verdict("http://localhost:9000/v1", &[], "p").is_err());
        assert!(verdict("http://localhost.:9000/v1", &[], "p").is_err());
        assert!(verdict("http://metadata.google.internal/", &[], "p").is_err());
        // The fix it names is one `--trusted-custom-host` reads back.
        let e = verdict("http://[::1]:8000/v1", &[], "p").unwrap_err();
        assert!(
            e.message.contains("--trusted-custom-host [::1]:8000`"),
            "{}",
            e.message
        );
        let trusted = vec!["[::1]:8000".parse().unwrap(), "vm:80".parse().unwrap()];
        assert!(verdict("http://[::1]:8000/v1", &trusted, "p").is_ok());
        assert!(verdict("http://VM./v1", &trusted, "p").is_ok());
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_when_connecting() {
        use reqwest::dns::Resolve;
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        let refused = GuardedResolver::new(Vec::new()).resolve(name()).await;
        let e = refused.err().expect("localhost resolves to loopback");
        assert!(e.is::<PrivateName>(), "{e}");
        let trusted = GuardedResolver::new(vec!["localhost".parse().unwrap()]);
        let addresses: Vec<_> = trusted.resolve(name()).await.unwrap().collect();
        assert!(
            addresses.iter().all(|a| is_private(a.ip())),
            "{addresses:?}"
        );
        assert!(!addresses.is_empty());
    }

    /// An HTTP server on a loopback port that answers every connection with 204.
    fn answering() -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let _ = conn.read(&mut [0; 4096]);
                let _ = conn.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n");
            }
        });
        port
    }

    #[tokio::test]
    async fn a_name_trusted_on_one_port_is_refused_at_connect_on_any_other() {
        let (trusted_port, other_port) = (answering(), answering());
        let trusted: Vec<TrustedHost> = vec![format!("localhost:{trusted_port}").parse().unwrap()];
        let clients = CustomClients::new(&trusted, &[], reqwest::Client::builder).unwrap();
        let call = |port: u16| {
            let url = reqwest::Url::parse(&format!("http://localhost:{port}/v1")).unwrap();
            let client = clients.for_url(&url).clone();
            async move { client.get(url).send().await }
        };
        // On its port the name's loopback address is called.
        assert_eq!(call(trusted_port).await.unwrap().status(), 204);
        // On another port the connection itself refuses it, whatever a check before the
        // call found when it resolved the name.
        let e = call(other_port).await.unwrap_err();
        let url = format!("http://localhost:{other_port}/v1");
        let refusal = refused_at_connect(&e, &url, "p").expect("refused by the resolver");
        let message = refusal
            .expect("a private name, not an unresolved one")
            .message;
        assert!(
            message.contains(&format!("--trusted-custom-host localhost:{other_port}")),
            "{message}"
        );
        // A name trusted on every port is called on any.
        let everywhere = CustomClients::new(
            &["localhost".parse().unwrap()],
            &[],
            reqwest::Client::builder,
        )
        .unwrap();
        let url = reqwest::Url::parse(&format!("http://localhost:{other_port}/v1")).unwrap();
        let answer = everywhere.for_url(&url).get(url).send().await.unwrap();
        assert_eq!(answer.status(), 204);
    }

    #[test]
    fn a_proxy_setting_names_its_host() {
        let settings = [
            "http://user:secret@Proxy.Corp:3128",
            "proxy2.corp:3128",
            "socks5://10.0.0.1:1080",
            "[::1]:3128",
        ]
        .map(str::to_owned);
        let hosts: Vec<String> = proxy_hosts(&settings).into_iter().map(|t| t.host).collect();
        assert_eq!(hosts, ["proxy.corp", "proxy2.corp", "10.0.0.1", "::1"]);
    }

    #[tokio::test]
    async fn a_proxy_the_operator_set_is_reached_on_its_private_address() {
        let (proxy_port, upstream_port) = (answering(), answering());
        let proxy = format!("http://localhost:{proxy_port}");
        let through = || reqwest::Client::builder().proxy(reqwest::Proxy::http(&proxy).unwrap());
        // A name trusted on one port has a pool of its own: the proxy is reached from
        // that pool too.
        let trusted: Vec<TrustedHost> =
            vec![format!("vllm.internal:{upstream_port}").parse().unwrap()];
        let clients = CustomClients::new(
            &trusted,
            &proxy_hosts(std::slice::from_ref(&proxy)),
            through,
        )
        .unwrap();
        let upstreams = [
            "http://api.example.com/v1".to_owned(),
            format!("http://vllm.internal:{upstream_port}/v1"),
        ];
        for url in upstreams {
            let url = reqwest::Url::parse(&url).unwrap();
            let answer = clients.for_url(&url).get(url.clone()).send().await;
            assert_eq!(answer.unwrap().status(), 204, "{url}");
        }
        // A proxy that is not the operator's is refused at its loopback address.
        let unproxied = CustomClients::new(&trusted, &[], through).unwrap();
        let url = "http://api.example.com/v1";
        let e = unproxied
            .for_url(&url.parse().unwrap())
            .get(url)
            .send()
            .await;
        let e = e.unwrap_err();
        assert!(refused_at_connect(&e, url, "p").is_some(), "{e}");
    }

    #[tokio::test]
    async fn a_name_is_left_to_the_resolver_of_its_connection() {
        // No lookup before the call, trusted on another port or not.
        assert!(verdict("http://no-such-host.invalid:8000/v1", &[], "p").is_ok());
        let other = vec!["no-such-host.invalid:9000".parse().unwrap()];
        assert!(verdict("http://no-such-host.invalid:8000/v1", &other, "p").is_ok());
        // Asked to explain (`catalog check`, or calls through a proxy), it resolves it.
        let e = check_resolving("http://no-such-host.invalid:8000/v1", &other, "p")
            .await
            .unwrap_err();
        assert!(e.message.contains("cannot resolve"), "{}", e.message);
        let e = check_resolving("http://no-such-host.invalid:8000/v1", &[], "p")
            .await
            .unwrap_err();
        assert!(e.message.contains("cannot resolve"), "{}", e.message);
    }
}
