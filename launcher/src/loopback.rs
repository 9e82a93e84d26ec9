//! Whether a URL names this machine: a loopback address means something different on
//! the laptop than on the instance, and is the only place plain http is acceptable for
//! a secret.

use std::net::IpAddr;

/// True when `url` parses and its host is `localhost` (or `*.localhost`), a loopback
/// IP (127.0.0.0/8, ::1) or the unspecified address (0.0.0.0, ::), which also reaches
/// this machine.
pub fn is_loopback_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let Some(host) = parsed.host_str() else {
        return false;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    match host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        Ok(ip) => is_local_ip(ip),
        Err(_) => host == "localhost" || host.ends_with(".localhost"),
    }
}

fn is_local_ip(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_are_recognised() {
        for url in [
            "http://127.0.0.1:8080/api/v1",
            "http://127.1.2.3/",
            "https://localhost/api",
            "http://LOCALHOST.:9",
            "http://api.localhost/",
            "http://[::1]:80/",
            "http://0.0.0.0:1/",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://cloud.lambda.ai/api/v1",
            "http://10.0.0.1/",
            "http://[2001:db8::1]/",
            "http://localhost.example.com/",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
