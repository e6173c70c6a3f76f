//! Who gets in and who may publish: connection caps (total and per IP), the `Origin` allow-list,
//! the publish token and protected mode, and the per-connection message rate.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, Uri};
use furniture_protocol::Refusal;

use crate::config::Config;
use crate::metrics::ConnRefusal;

/// Open TCP connections, in total and per IP address (a global IPv6 address counts with its
/// /64, see [`counted_as`]).
pub struct Limits {
    max_total: usize,
    /// 0: no per-IP limit.
    max_per_ip: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open TCP connection's place; given back when the last clone is dropped (the HTTP
/// connection and, after an upgrade, its WebSocket each hold one).
pub struct Slot {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Limits {
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Limits> {
        Arc::new(Limits { max_total, max_per_ip, open: Mutex::new((0, HashMap::new())) })
    }

    /// Takes a place for a connection from `ip`, or says which cap refuses it.
    pub fn acquire(self: &Arc<Self>, ip: IpAddr) -> Result<Arc<Slot>, ConnRefusal> {
        let ip = counted_as(ip);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.0 >= self.max_total {
            return Err(ConnRefusal::MaxConnections);
        }
        let from_ip = open.1.get(&ip).copied().unwrap_or(0);
        if self.max_per_ip > 0 && from_ip >= self.max_per_ip {
            return Err(ConnRefusal::PerIp);
        }
        open.0 += 1;
        open.1.insert(ip, from_ip + 1);
        Ok(Arc::new(Slot { limits: self.clone(), ip }))
    }

    /// Open connections in total and from `ip` (as [`counted_as`] groups addresses).
    pub fn open(&self, ip: IpAddr) -> (usize, usize) {
        let open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        (open.0, open.1.get(&counted_as(ip)).copied().unwrap_or(0))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.limits.open.lock().unwrap_or_else(|p| p.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.ip);
            }
        }
    }
}

/// An IPv4 address seen through an IPv6 socket counts as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The address a connection counts against for `--max-connections-per-ip`: an IPv4 address
/// itself, also when it comes through NAT64's well-known prefix (`64:ff9b::/96`, RFC 6052); a
/// global IPv6 address its /64 network, the least a host is given (RFC 6177), so a host cannot
/// get past the cap by taking a new address from its own network for each connection. Teredo
/// (`2001::/32`, whose /64 holds a relay's address shared by all its clients) and other IPv6
/// addresses count one by one.
fn counted_as(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = canonical(ip) else { return canonical(ip) };
    let bits = u128::from(v6);
    if bits >> 32 == 0x0064_ff9b_u128 << 64 {
        return IpAddr::V4((bits as u32).into());
    }
    let global = v6.segments()[0] & 0xe000 == 0x2000 && v6.segments()[..2] != [0x2001, 0];
    IpAddr::V6(if global { bits & !((1u128 << 64) - 1) } else { bits }.into())
}

/// True for 127.0.0.0/8 and ::1 (also as an IPv4-mapped address).
pub fn is_loopback(ip: IpAddr) -> bool {
    canonical(ip).is_loopback()
}

/// True when the request may open a WebSocket as far as its `Origin` goes: no allow-list, no
/// `Origin` header (not a browser), an origin on the list, or the page's own origin under a host
/// that is surely this machine ([`surely_this_machine`]).
pub fn origin_allowed(config: &Config, headers: &HeaderMap) -> bool {
    if config.allowed_origins.is_empty() {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let Ok(origin) = origin.to_str() else { return false };
    let origin = origin.trim_end_matches('/');
    if origin_listed(config, headers) {
        return true;
    }
    // Same origin: the dashboard this broker serves connects back to the host it came from.
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://"));
    matches!((host, origin_host), (Some(h), Some(o)) if h.eq_ignore_ascii_case(o) && surely_this_machine(h, machine_name()))
}

/// Whether `host` (a `Host` header: a name or an address, with or without its port) surely
/// names the machine the broker runs on: an IP address, `localhost` (or a name under it), or
/// `machine`, the machine's own name as its kernel has it, alone or with `.local` (its name on
/// the local network), and its first label alone (a short name) when it has several. Any other
/// name may be one that a web page's owner pointed at this address (DNS rebinding), so that its
/// page is the broker's "own origin": such a name has to be listed.
pub fn surely_this_machine(host: &str, machine: Option<&str>) -> bool {
    if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
        return true; // an IPv6 address (bracketed, as a Host header has it, or bare)
    }
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || name.len() > ".localhost".len() && name.as_bytes()[name.len() - ".localhost".len()..].eq_ignore_ascii_case(b".localhost")
        || machine.is_some_and(|m| {
            let short = m.split('.').next().unwrap_or(m);
            let name = name.strip_suffix(".local").unwrap_or(name);
            !short.is_empty() && (name.eq_ignore_ascii_case(m) || name.eq_ignore_ascii_case(short))
        })
}

/// The machine's name (Linux; `None` elsewhere), read once.
fn machine_name() -> Option<&'static str> {
    static NAME: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    NAME.get_or_init(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok().map(|n| n.trim().to_owned())).as_deref()
}

/// The request's `Origin` is on `--allowed-origins` (not merely the page's own).
fn origin_listed(config: &Config, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else { return false };
    let origin = origin.trim_end_matches('/');
    config.allowed_origins.iter().any(|o| o.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
}

/// Whether a new connection may publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publishing {
    Allowed,
    /// A viewer: its publishes are refused with this reason.
    Refused(Refusal),
}

/// Decides what a connection may do from its token and address. A token that is presented and
/// wrong refuses the connection (HTTP 401), so that a misconfigured producer fails loudly; no
/// token makes a read-only viewer.
pub fn publishing(config: &Config, peer: IpAddr, headers: &HeaderMap, uri: &Uri) -> Result<Publishing, ConnRefusal> {
    let presented = presented_token(headers, uri);
    match (&config.publish_token, presented) {
        (Some(secret), Some(token)) => {
            if secret.matches(&token) {
                Ok(Publishing::Allowed)
            } else {
                Err(ConnRefusal::BadToken)
            }
        }
        (Some(_), None) => Ok(Publishing::Refused(Refusal::TokenRequired)),
        // Without a token configured, one presented is ignored: protected mode decides. A web
        // page (it sends `Origin`) is any site open in a browser on this machine: it publishes
        // from loopback only when its origin is on the list.
        (None, _) => {
            if config.allow_remote_publish || (is_loopback(peer) && (headers.get(header::ORIGIN).is_none() || origin_listed(config, headers))) {
                Ok(Publishing::Allowed)
            } else {
                Ok(Publishing::Refused(Refusal::ProtectedMode))
            }
        }
    }
}

/// The token in `?token=` or an `Authorization: Bearer` header.
fn presented_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    if let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| std::str::from_utf8(v.as_bytes()).ok()) {
        if let Some((scheme, token)) = auth.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") {
                return Some(token.trim().to_owned());
            }
        }
    }
    let axum::extract::Query(params) = axum::extract::Query::<HashMap<String, String>>::try_from_uri(uri).ok()?;
    params.get("token").cloned()
}

/// A token bucket: `rate` frames per second on average, `burst` at once.
pub struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    /// `None` when `rate` is 0 (no limit).
    pub fn new(rate: u32, burst: u32) -> Option<RateLimit> {
        (rate > 0).then(|| RateLimit {
            rate: rate as f64,
            burst: burst.max(1) as f64,
            tokens: burst.max(1) as f64,
            last: Instant::now(),
        })
    }

    /// `per_minute` on average, `burst` at once; `None` when `per_minute` is 0 (no limit).
    pub fn per_minute(per_minute: u32, burst: u32) -> Option<RateLimit> {
        RateLimit::new(per_minute, burst).map(|mut limit| {
            limit.rate /= 60.0;
            limit
        })
    }

    /// Takes one frame's token; returns how long to wait first when there is none left.
    pub fn take(&mut self, now: Instant) -> Option<Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            None
        } else {
            Some(Duration::from_secs_f64(-self.tokens / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn config() -> Config {
        Config::on("127.0.0.1:0".parse().unwrap())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn caps_hold_at_their_bound_and_places_come_back() {
        let limits = Limits::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let a1 = limits.acquire(a).unwrap();
        let _a2 = limits.acquire(a).unwrap();
        assert_eq!(limits.acquire(a).err(), Some(ConnRefusal::PerIp), "third from one address");
        // The same address through an IPv6 socket is the same address.
        assert_eq!(limits.acquire("::ffff:10.0.0.1".parse().unwrap()).err(), Some(ConnRefusal::PerIp));
        let _b1 = limits.acquire(b).unwrap();
        assert_eq!(limits.acquire(b).err(), Some(ConnRefusal::MaxConnections), "fourth in all");
        drop(a1);
        assert_eq!(limits.open(a), (2, 1));
        assert!(limits.acquire(b).is_ok(), "a freed place is usable again");
    }

    #[test]
    fn an_ipv6_network_of_64_counts_as_one_address() {
        let limits = Limits::new(100, 2);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let _a = limits.acquire(ip("2001:db8:1:2::1")).unwrap();
        let b = limits.acquire(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")).unwrap();
        assert_eq!(limits.acquire(ip("2001:db8:1:2:abcd::9")).err(), Some(ConnRefusal::PerIp), "a third address of the same /64");
        assert_eq!(limits.open(ip("2001:db8:1:2::77")), (2, 2));
        assert!(limits.acquire(ip("2001:db8:1:3::1")).is_ok(), "the next /64 is someone else");
        drop(b);
        assert!(limits.acquire(ip("2001:db8:1:2::5")).is_ok(), "its place is given back to the network");
        // IPv4 addresses stay one each, also through an IPv6 socket or NAT64.
        let _c = limits.acquire(ip("10.0.0.1")).unwrap();
        let _d = limits.acquire(ip("::ffff:10.0.0.2")).unwrap();
        let _e = limits.acquire(ip("64:ff9b::10.0.0.2")).unwrap();
        assert_eq!(limits.open(ip("10.0.0.2")).1, 2);
        assert_eq!(limits.acquire(ip("64:ff9b::a00:2")).err(), Some(ConnRefusal::PerIp));
        assert!(limits.acquire(ip("64:ff9b::10.0.0.3")).is_ok(), "another IPv4 client of the translator");
        // Clients of one Teredo relay, and addresses that are not global, count one by one.
        let each = ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:0:4136:e378:8000:63bf:3fff:fdd3", "fd00::1", "fd00::2", "fe80::1", "fe80::2"];
        let _kept: Vec<_> = each.iter().map(|one| limits.acquire(ip(one)).unwrap()).collect();
        for one in each {
            assert_eq!(limits.open(ip(one)).1, 1, "{one}");
        }
    }

    #[test]
    fn protected_mode_lets_only_loopback_publish_unless_opened() {
        let mut c = config();
        let uri: Uri = "/".parse().unwrap();
        let h = HeaderMap::new();
        for ip in ["127.0.0.1", "127.3.4.5", "::1", "::ffff:127.0.0.1"] {
            assert_eq!(publishing(&c, ip.parse().unwrap(), &h, &uri), Ok(Publishing::Allowed), "{ip}");
        }
        for ip in ["10.0.0.2", "192.168.1.9", "fe80::1", "::ffff:10.0.0.2"] {
            assert_eq!(
                publishing(&c, ip.parse().unwrap(), &h, &uri),
                Ok(Publishing::Refused(Refusal::ProtectedMode)),
                "{ip}"
            );
        }
        c.allow_remote_publish = true;
        assert_eq!(publishing(&c, "10.0.0.2".parse().unwrap(), &h, &uri), Ok(Publishing::Allowed));
    }

    #[test]
    fn in_protected_mode_a_web_page_on_this_machine_publishes_only_from_a_listed_origin() {
        let mut c = config();
        let uri: Uri = "/".parse().unwrap();
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        // Any site open in a browser here, or one that rebinds its name to 127.0.0.1.
        let evil = headers(&[("origin", "https://evil.example")]);
        let rebound = headers(&[("origin", "http://rebind.example:8765"), ("host", "rebind.example:8765")]);
        for h in [&evil, &rebound] {
            assert_eq!(publishing(&c, lo, h, &uri), Ok(Publishing::Refused(Refusal::ProtectedMode)));
        }
        c.allowed_origins = vec!["https://ops.example".into()];
        assert_eq!(publishing(&c, lo, &rebound, &uri), Ok(Publishing::Refused(Refusal::ProtectedMode)), "the page's own origin views, not publishes");
        assert_eq!(publishing(&c, lo, &headers(&[("origin", "https://ops.example/")]), &uri), Ok(Publishing::Allowed), "a listed origin");
        assert_eq!(publishing(&c, lo, &HeaderMap::new(), &uri), Ok(Publishing::Allowed), "no Origin: a producer, not a page");
        c.allow_remote_publish = true;
        assert_eq!(publishing(&c, lo, &evil, &uri), Ok(Publishing::Allowed), "opened to everyone");
    }

    #[test]
    fn with_a_token_only_the_right_one_publishes_from_anywhere() {
        let mut c = config();
        c.publish_token = Some(Secret::new("s3cr3t/+="));
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let remote: IpAddr = "10.1.2.3".parse().unwrap();
        let none = HeaderMap::new();
        let plain: Uri = "/".parse().unwrap();
        assert_eq!(publishing(&c, lo, &none, &plain), Ok(Publishing::Refused(Refusal::TokenRequired)), "loopback needs it too");
        let right: Uri = "/?token=s3cr3t%2F%2B%3D".parse().unwrap();
        assert_eq!(publishing(&c, remote, &none, &right), Ok(Publishing::Allowed), "percent-encoded in the query");
        let wrong: Uri = "/?token=guess".parse().unwrap();
        assert_eq!(publishing(&c, remote, &none, &wrong), Err(ConnRefusal::BadToken));
        let bearer = headers(&[("authorization", "Bearer s3cr3t/+=")]);
        assert_eq!(publishing(&c, remote, &bearer, &plain), Ok(Publishing::Allowed));
        let bad_bearer = headers(&[("authorization", "Bearer s3cr3t")]);
        assert_eq!(publishing(&c, remote, &bad_bearer, &plain), Err(ConnRefusal::BadToken));
    }

    #[test]
    fn origins_on_the_list_and_the_page_own_origin_pass() {
        let mut c = config();
        let h = headers(&[("origin", "https://evil.example"), ("host", "wall.local:8765")]);
        assert!(origin_allowed(&c, &h), "no list: anyone");
        c.allowed_origins = vec!["https://wall.example.com".into(), "http://desk.local:8080/".into()];
        assert!(!origin_allowed(&c, &h));
        assert!(origin_allowed(&c, &headers(&[("origin", "https://wall.example.com")])));
        assert!(origin_allowed(&c, &headers(&[("origin", "http://desk.local:8080")])));
        assert!(origin_allowed(&c, &headers(&[("origin", "http://127.0.0.1:8765"), ("host", "127.0.0.1:8765")])), "same origin, by address");
        assert!(origin_allowed(&c, &headers(&[("origin", "http://localhost:8765"), ("host", "localhost:8765")])), "same origin, localhost");
        assert!(!origin_allowed(&c, &headers(&[("origin", "http://rebind.example:8765"), ("host", "rebind.example:8765")])), "a name that may point here only for the page's owner");
        c.allowed_origins.push("http://wall.office:8765".into());
        assert!(origin_allowed(&c, &headers(&[("origin", "http://wall.office:8765"), ("host", "wall.office:8765")])), "the name listed");
        assert!(origin_allowed(&c, &HeaderMap::new()), "no Origin: not a browser");
        assert!(!origin_allowed(&c, &headers(&[("origin", "null")])));
    }

    #[test]
    fn hosts_that_surely_name_this_machine() {
        for host in ["127.0.0.1", "127.0.0.1:8765", "10.0.0.5:80", "[::1]:8765", "[fe80::1]", "::1", "localhost", "LOCALHOST:8765", "wall.localhost:8765", "localhost.", "wallbroker", "WallBroker:8765", "wallbroker.local:8765", "wallbroker.local."] {
            assert!(surely_this_machine(host, Some("wallbroker")), "{host}");
        }
        for host in ["rebind.example", "rebind.example:8765", "wallbroker.evil.example", "localhost.evil.example", "127.0.0.1.evil.example", "", "x.localhostx", "evil.local", "wallbroker.office.example.evil"] {
            assert!(!surely_this_machine(host, Some("wallbroker")), "{host}");
        }
        // A kernel that has the whole name: it, and the short one, are this machine.
        for host in ["wallbroker.office.example:8765", "wallbroker:8765", "wallbroker.local"] {
            assert!(surely_this_machine(host, Some("wallbroker.office.example")), "{host}");
        }
        assert!(!surely_this_machine("office.example", Some("wallbroker.office.example")));
        assert!(!surely_this_machine("wallbroker", None), "the machine's name unknown");
        assert!(!surely_this_machine("", Some("")), "an empty name is nobody's");
        assert!(!surely_this_machine(".local:8765", Some(".odd")), "nor an empty first label");
        assert!(!surely_this_machine("éééééééa", Some("wallbroker")), "text that is not ASCII is no name of this machine, and no panic");
    }

    #[test]
    fn the_bucket_allows_its_burst_then_paces_to_its_rate() {
        let mut r = RateLimit::new(10, 5).unwrap();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert_eq!(r.take(t0), None);
        }
        let wait = r.take(t0).expect("sixth waits");
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // A second later ten more tokens arrived, but never more than the burst.
        let t1 = t0 + Duration::from_secs(10);
        for _ in 0..5 {
            assert_eq!(r.take(t1), None);
        }
        assert!(r.take(t1).is_some());
        assert!(RateLimit::new(0, 5).is_none(), "0 means no limit");
    }
}
