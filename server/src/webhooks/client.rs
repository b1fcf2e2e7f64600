//! The HTTP client deliveries go out on: no redirects, a timeout, and — unless
//! private targets are allowed or a proxy is configured — a resolver that
//! refuses private addresses at connect time ([`super::ssrf`]).

use super::ssrf;
use std::time::Duration;

/// The HTTP client deliveries go through: no redirects, a bounded timeout,
/// (unless private targets are allowed) a resolver that refuses non-public
/// addresses, and no proxy — `HTTP_PROXY` and friends are ignored — unless
/// `proxy` is given, which then carries every delivery (and resolves the
/// targets: filtering them is its job; URLs are still checked when saved).
pub fn client(allow_private: bool, timeout: Duration, proxy: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("keyward-webhooks/", env!("CARGO_PKG_VERSION")));
    let builder = match proxy {
        Some(proxy) => {
            builder.proxy(reqwest::Proxy::all(proxy).map_err(|_| anyhow::anyhow!("webhook_proxy: not a proxy URL"))?)
        }
        None if allow_private => builder.no_proxy(),
        None => builder.no_proxy().dns_resolver(ssrf::PublicOnlyResolver),
    };
    Ok(builder.build()?)
}
