//! Which broker the page connects to, and the page's own address.

/// The broker's port when the page is not served by the broker itself.
pub const DEFAULT_BROKER_PORT: u16 = 8765;

/// The broker URL: the page's `?ws=` parameter when given; the page's own origin when the broker
/// served the page (it marks the page so); otherwise port 8765 on the page's host.
/// `https:` pages use `wss:`.
pub fn broker_url(protocol: &str, host: &str, hostname: &str, ws_param: Option<&str>, served_by_broker: bool) -> String {
    if let Some(ws) = ws_param.map(str::trim).filter(|s| !s.is_empty()) {
        return ws.to_owned();
    }
    let scheme = if protocol == "https:" { "wss" } else { "ws" };
    if served_by_broker {
        return format!("{scheme}://{host}/");
    }
    let hostname = if hostname.is_empty() { "localhost" } else { hostname };
    // An IPv6 literal needs its brackets back once the port is added.
    let hostname = if hostname.contains(':') && !hostname.starts_with('[') { format!("[{hostname}]") } else { hostname.to_owned() };
    format!("{scheme}://{hostname}:{DEFAULT_BROKER_PORT}/")
}

/// The page's query `search` (as `location.search` gives it, `?` and all) with `name=value` in
/// place of the first `name`, or added at the end, and every other `name` taken out; `None` takes
/// `name` out. Every other parameter stays as it was written: `?kiosk` is not made `?kiosk=`,
/// nor a `ws=` address encoded again. `value` is written as it is: the page's own words (a sort
/// order, `material`) need no encoding.
pub fn with_param(search: &str, name: &str, value: Option<&str>) -> String {
    let mut out = String::new();
    let mut value = value;
    let put = |out: &mut String, k: &str, v: Option<&str>| {
        out.push(if out.is_empty() { '?' } else { '&' });
        out.push_str(k);
        if let Some(v) = v {
            out.push('=');
            out.push_str(v);
        }
    };
    for p in search.trim_start_matches('?').split('&').filter(|p| !p.is_empty()) {
        if p.split_once('=').map_or(p, |(k, _)| k) != name {
            put(&mut out, p, None);
        } else if let Some(v) = value.take() {
            put(&mut out, name, Some(v));
        }
    }
    if let Some(v) = value {
        put(&mut out, name, Some(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_parameter_wins() {
        assert_eq!(broker_url("http:", "a:8080", "a", Some("ws://b:9000/x?t=1"), true), "ws://b:9000/x?t=1");
        assert_eq!(broker_url("http:", "a:8080", "a", Some("  "), true), "ws://a:8080/");
    }

    #[test]
    fn served_by_the_broker_means_same_origin() {
        assert_eq!(broker_url("http:", "screen.local:8765", "screen.local", None, true), "ws://screen.local:8765/");
        assert_eq!(broker_url("https:", "screen.local", "screen.local", None, true), "wss://screen.local/");
    }

    #[test]
    fn otherwise_port_8765_on_the_page_host() {
        assert_eq!(broker_url("http:", "localhost:8080", "localhost", None, false), "ws://localhost:8765/");
        assert_eq!(broker_url("http:", "[::1]:8080", "[::1]", None, false), "ws://[::1]:8765/");
        assert_eq!(broker_url("file:", "", "", None, false), "ws://localhost:8765/");
    }

    #[test]
    fn a_parameter_written_leaves_the_others_as_they_were() {
        assert_eq!(with_param("?kiosk&ws=ws://b:9000/x", "sort", Some("age")), "?kiosk&ws=ws://b:9000/x&sort=age");
        assert_eq!(with_param("?sort=name&kiosk", "sort", Some("age")), "?sort=age&kiosk");
        assert_eq!(with_param("?sort=name&kiosk&sort=x", "sort", Some("age")), "?sort=age&kiosk");
        assert_eq!(with_param("?kiosk&sort=name", "sort", None), "?kiosk");
        assert_eq!(with_param("?sort=name", "sort", None), "");
        assert_eq!(with_param("", "group", Some("material")), "?group=material");
        // A parameter whose name only starts the same is another one.
        assert_eq!(with_param("?sorted=1", "sort", None), "?sorted=1");
        assert_eq!(with_param("?", "group", Some("material")), "?group=material");
    }
}
