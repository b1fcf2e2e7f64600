//! Layered configuration: built-in defaults < `keyward.toml` < environment <
//! command-line flags. clap merges flags over environment; the file fills what
//! both leave unset.

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::{net::SocketAddr, path::PathBuf, time::Duration};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://keyward.db";

#[derive(Debug, Parser)]
#[command(name = "keyward", version, about = "keyward: a self-hostable API-key service")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve,
    /// Create an organization and an org-wide admin key (scopes ["*"]) and print the key once on stdout.
    Bootstrap {
        /// Name of the organization to create.
        #[arg(long, default_value = "Default organization")]
        org_name: String,
    },
    /// Print the OpenAPI 3.1 document and exit.
    Openapi,
    /// Benchmark set-up (`cargo xtask bench`): bootstrap an organization and
    /// bulk-create `--keys` keys, writing their plaintexts to `--keys-file`.
    #[command(hide = true)]
    BenchSeed {
        #[arg(long)]
        keys: usize,
        #[arg(long)]
        keys_file: PathBuf,
    },
}

#[derive(Debug, Default, Args)]
pub struct SettingsArgs {
    /// Configuration file (TOML). Missing is fine unless given explicitly.
    #[arg(long, env = "KEYWARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, env = "KEYWARD_LISTEN", global = true)]
    pub listen: Option<SocketAddr>,
    /// `sqlite://path` (created if missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// tracing filter, e.g. `info,keyward_server=debug`.
    #[arg(long, env = "KEYWARD_LOG", global = true)]
    pub log: Option<String>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "KEYWARD_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// Proxies (CIDRs, comma-separated) whose `X-Forwarded-For` names the client; default none: the TCP peer is the client.
    #[arg(long, env = "KEYWARD_TRUSTED_PROXIES", global = true)]
    pub trusted_proxies: Option<String>,
    /// Milliseconds a client has to send a request's headers before its connection is closed.
    #[arg(long, env = "KEYWARD_HEADER_READ_TIMEOUT_MS", global = true)]
    pub header_read_timeout_ms: Option<u64>,
    /// Milliseconds a request may take in all before it is answered 503.
    #[arg(long, env = "KEYWARD_REQUEST_TIMEOUT_MS", global = true)]
    pub request_timeout_ms: Option<u64>,
    /// Open connections at most; more wait in the listen backlog.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", global = true)]
    pub max_connections: Option<usize>,
    /// Requests in progress at most; more are answered 503 with `Retry-After`.
    #[arg(long, env = "KEYWARD_MAX_CONCURRENT_REQUESTS", global = true)]
    pub max_concurrent_requests: Option<usize>,
    /// Failed authentications per client address and minute before 429 (0: unlimited).
    #[arg(long, env = "KEYWARD_AUTH_FAILURE_LIMIT", global = true)]
    pub auth_failure_limit: Option<u64>,
    /// Seconds a positive verify-cache entry may live (the bound when an invalidation is missed).
    #[arg(long, env = "KEYWARD_CACHE_TTL_SECS", global = true)]
    pub cache_ttl_secs: Option<u64>,
    /// Maximum number of key records held in the verify cache (0 disables it).
    #[arg(long, env = "KEYWARD_CACHE_CAPACITY", global = true)]
    pub cache_capacity: Option<u64>,
    /// Serve `/metrics` without credentials (true) or not at all (false).
    #[arg(long, env = "KEYWARD_METRICS", global = true)]
    pub metrics: Option<bool>,
    /// Maximum database connections in the pool.
    #[arg(long, env = "KEYWARD_DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,
    /// Do not create an organization and admin key on first start.
    #[arg(long, env = "KEYWARD_NO_BOOTSTRAP", global = true)]
    pub no_bootstrap: Option<bool>,
    /// HS256 secret for session JWTs (raw UTF-8 bytes).
    #[arg(long, env = "KEYWARD_JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// JWKS URL publishing the RS256/ES256 keys that sign session JWTs.
    #[arg(long, env = "KEYWARD_JWKS_URL", global = true)]
    pub jwks_url: Option<String>,
    /// Accepted session-JWT `aud` values (comma-separated); unchecked when unset.
    #[arg(long, env = "KEYWARD_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Accepted session-JWT `iss` values (comma-separated); unchecked when unset.
    #[arg(long, env = "KEYWARD_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Minimum milliseconds between two JWKS fetches (an unknown `kid` triggers one).
    #[arg(long, env = "KEYWARD_JWKS_MIN_REFRESH_MS", global = true)]
    pub jwks_min_refresh_ms: Option<u64>,
    /// Milliseconds between write-behind flushes of `last_used_at` and usage counters.
    #[arg(long, env = "KEYWARD_USAGE_FLUSH_INTERVAL_MS", global = true)]
    pub usage_flush_interval_ms: Option<u64>,
    /// Run the rotation scheduler, expiry warnings and webhook delivery in this
    /// process (false: an API-only replica).
    #[arg(long, env = "KEYWARD_BACKGROUND_JOBS", global = true)]
    pub background_jobs: Option<bool>,
    /// Milliseconds between scheduler passes (due rotations, expiry and rotation warnings).
    #[arg(long, env = "KEYWARD_SCHEDULER_INTERVAL_MS", global = true)]
    pub scheduler_interval_ms: Option<u64>,
    /// Grace period (seconds) of a scheduled rotation when the key's project sets none.
    #[arg(long, env = "KEYWARD_SCHEDULED_ROTATION_GRACE_SECS", global = true)]
    pub scheduled_rotation_grace_secs: Option<u64>,
    /// Milliseconds between polls of the webhook outbox.
    #[arg(long, env = "KEYWARD_WEBHOOK_POLL_INTERVAL_MS", global = true)]
    pub webhook_poll_interval_ms: Option<u64>,
    /// Delays (ms, comma-separated) before each webhook retry; after the last the delivery is dead-lettered.
    #[arg(long, env = "KEYWARD_WEBHOOK_RETRY_DELAYS_MS", global = true)]
    pub webhook_retry_delays_ms: Option<String>,
    /// Milliseconds a webhook receiver has to answer.
    #[arg(long, env = "KEYWARD_WEBHOOK_TIMEOUT_MS", global = true)]
    pub webhook_timeout_ms: Option<u64>,
    /// Allow webhook URLs that resolve to private, loopback or link-local addresses (SSRF guard off).
    #[arg(long, env = "KEYWARD_WEBHOOK_ALLOW_PRIVATE", global = true)]
    pub webhook_allow_private: Option<bool>,
    /// PEM file of the ECDSA P-256 public keys that sign leaked-key reports (GitHub secret scanning).
    #[arg(long, env = "KEYWARD_LEAK_REPORT_PUBLIC_KEYS", global = true)]
    pub leak_report_public_keys: Option<PathBuf>,
    /// Key that encrypts webhook secrets at rest (base64 of 32 bytes).
    #[arg(long, env = "KEYWARD_SECRETS_KEY", global = true, hide_env_values = true)]
    pub secrets_key: Option<String>,
    /// Previous secrets keys (comma-separated base64), still accepted for decryption while rotating.
    #[arg(long, env = "KEYWARD_SECRETS_KEY_PREVIOUS", global = true, hide_env_values = true)]
    pub secrets_key_previous: Option<String>,
    /// Most webhook endpoints (not deleted) one organization may have.
    #[arg(long, env = "KEYWARD_WEBHOOK_MAX_ENDPOINTS", global = true)]
    pub webhook_max_endpoints: Option<u64>,
    /// Send every webhook delivery through this proxy (`http://host:port`); unset: no proxy at all
    /// (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` are ignored).
    #[arg(long, env = "KEYWARD_WEBHOOK_PROXY", global = true, hide_env_values = true)]
    pub webhook_proxy: Option<String>,
    /// Days hourly usage counters are kept (0: for ever).
    #[arg(long, env = "KEYWARD_USAGE_RETENTION_DAYS", global = true)]
    pub usage_retention_days: Option<u64>,
    /// Days audit events are kept (unset or 0: for ever).
    #[arg(long, env = "KEYWARD_AUDIT_RETENTION_DAYS", global = true)]
    pub audit_retention_days: Option<u64>,
}

/// The same settings as they may appear in `keyward.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
    trusted_proxies: Option<String>,
    header_read_timeout_ms: Option<u64>,
    request_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_concurrent_requests: Option<usize>,
    auth_failure_limit: Option<u64>,
    cache_ttl_secs: Option<u64>,
    cache_capacity: Option<u64>,
    metrics: Option<bool>,
    db_max_connections: Option<u32>,
    no_bootstrap: Option<bool>,
    jwt_secret: Option<String>,
    jwks_url: Option<String>,
    jwt_audience: Option<String>,
    jwt_issuer: Option<String>,
    jwks_min_refresh_ms: Option<u64>,
    usage_flush_interval_ms: Option<u64>,
    background_jobs: Option<bool>,
    scheduler_interval_ms: Option<u64>,
    scheduled_rotation_grace_secs: Option<u64>,
    webhook_poll_interval_ms: Option<u64>,
    webhook_retry_delays_ms: Option<String>,
    webhook_timeout_ms: Option<u64>,
    webhook_allow_private: Option<bool>,
    leak_report_public_keys: Option<PathBuf>,
    secrets_key: Option<String>,
    secrets_key_previous: Option<String>,
    webhook_max_endpoints: Option<u64>,
    webhook_proxy: Option<String>,
    usage_retention_days: Option<u64>,
    audit_retention_days: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub log: String,
    pub log_json: bool,
    /// Where use cases read "now" (the system clock; tests set a manual one).
    pub clock: crate::domain::time::Clock,
    /// Peers whose `X-Forwarded-For` is believed (see `auth::ClientAddr`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub max_connections: usize,
    pub max_concurrent_requests: usize,
    /// Failed authentications per client address and minute; 0 = unlimited.
    pub auth_failure_limit: u64,
    pub cache_ttl: Duration,
    pub cache_capacity: u64,
    pub metrics: bool,
    pub db_max_connections: u32,
    pub bootstrap_on_empty: bool,
    /// HS256 session-JWT secret; `Debug` never prints it.
    pub jwt_secret: Option<SecretString>,
    pub jwks_url: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwks_min_refresh_interval: Duration,
    pub usage_flush_interval: Duration,
    /// Scheduler and webhook delivery run in this process.
    pub background_jobs: bool,
    pub scheduler_interval: Duration,
    pub scheduled_rotation_grace: Duration,
    pub webhook_poll_interval: Duration,
    /// Delay before retry n (n = 1, 2, …); after the last, dead-lettered.
    pub webhook_retry_delays: Vec<Duration>,
    pub webhook_timeout: Duration,
    pub webhook_allow_private: bool,
    /// DER `SubjectPublicKeyInfo` of each key that may sign a leak report.
    pub leak_report_keys: Vec<Vec<u8>>,
    /// The key that seals webhook secrets at rest (`secrets.rs`); `Debug` never prints it.
    pub secrets_key: Option<SecretString>,
    /// Previous keys, still opening what they sealed.
    pub secrets_key_previous: Vec<SecretString>,
    /// Most endpoints (not deleted) per organization.
    pub webhook_max_endpoints: u64,
    /// Proxy every delivery goes through; none: proxy environment variables are ignored.
    pub webhook_proxy: Option<SecretString>,
    /// Hourly usage counters older than this are purged; `None`: kept for ever.
    pub usage_retention_days: Option<u64>,
    /// Audit events older than this are purged; `None`: kept for ever.
    pub audit_retention_days: Option<u64>,
}

/// About 24 h in all: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h.
pub const DEFAULT_WEBHOOK_RETRY_DELAYS_MS: [u64; 10] =
    [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000];

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            database_url: DEFAULT_DATABASE_URL.to_string(),
            log: "info".to_string(),
            log_json: false,
            clock: crate::domain::time::Clock::system(),
            trusted_proxies: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_concurrent_requests: 1024,
            auth_failure_limit: 100,
            cache_ttl: Duration::from_secs(30),
            cache_capacity: 1_000_000,
            metrics: true,
            db_max_connections: 16,
            bootstrap_on_empty: true,
            jwt_secret: None,
            jwks_url: None,
            jwt_audience: None,
            jwt_issuer: None,
            jwks_min_refresh_interval: Duration::from_secs(30),
            usage_flush_interval: Duration::from_secs(1),
            background_jobs: true,
            scheduler_interval: Duration::from_secs(30),
            scheduled_rotation_grace: Duration::from_secs(86_400),
            webhook_poll_interval: Duration::from_secs(1),
            webhook_retry_delays: DEFAULT_WEBHOOK_RETRY_DELAYS_MS.iter().map(|&ms| Duration::from_millis(ms)).collect(),
            webhook_timeout: Duration::from_secs(10),
            webhook_allow_private: false,
            leak_report_keys: Vec::new(),
            secrets_key: None,
            secrets_key_previous: Vec::new(),
            webhook_max_endpoints: 20,
            webhook_proxy: None,
            usage_retention_days: Some(400),
            audit_retention_days: None,
        }
    }
}

impl Config {
    pub fn resolve(args: &SettingsArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None if std::path::Path::new("keyward.toml").exists() => read_file("keyward.toml".as_ref())?,
            None => FileSettings::default(),
        };
        let d = Config::default();
        let log_format = args.log_format.clone().or(file.log_format).unwrap_or_else(|| "text".into());
        anyhow::ensure!(
            matches!(log_format.as_str(), "text" | "json"),
            "log_format: expected `text` or `json`, got `{log_format}`"
        );
        Ok(Config {
            listen: args.listen.or(file.listen).unwrap_or(d.listen),
            database_url: args.database_url.clone().or(file.database_url).unwrap_or(d.database_url),
            log: args.log.clone().or(file.log).unwrap_or(d.log),
            log_json: log_format == "json",
            clock: d.clock.clone(),
            trusted_proxies: match args.trusted_proxies.clone().or(file.trusted_proxies) {
                Some(list) => parse_cidrs("trusted_proxies", &list)?,
                None => d.trusted_proxies,
            },
            header_read_timeout: millis(
                args.header_read_timeout_ms.or(file.header_read_timeout_ms),
                d.header_read_timeout,
            ),
            request_timeout: millis(args.request_timeout_ms.or(file.request_timeout_ms), d.request_timeout),
            max_connections: args.max_connections.or(file.max_connections).unwrap_or(d.max_connections).max(1),
            max_concurrent_requests: args
                .max_concurrent_requests
                .or(file.max_concurrent_requests)
                .unwrap_or(d.max_concurrent_requests)
                .max(1),
            auth_failure_limit: args.auth_failure_limit.or(file.auth_failure_limit).unwrap_or(d.auth_failure_limit),
            cache_ttl: args.cache_ttl_secs.or(file.cache_ttl_secs).map(Duration::from_secs).unwrap_or(d.cache_ttl),
            cache_capacity: args.cache_capacity.or(file.cache_capacity).unwrap_or(d.cache_capacity),
            metrics: args.metrics.or(file.metrics).unwrap_or(d.metrics),
            db_max_connections: args.db_max_connections.or(file.db_max_connections).unwrap_or(d.db_max_connections),
            bootstrap_on_empty: !args.no_bootstrap.or(file.no_bootstrap).unwrap_or(false),
            jwt_secret: args.jwt_secret.clone().or(file.jwt_secret).filter(|s| !s.is_empty()).map(SecretString),
            jwks_url: args.jwks_url.clone().or(file.jwks_url).filter(|s| !s.is_empty()),
            jwt_audience: args.jwt_audience.clone().or(file.jwt_audience).filter(|s| !s.is_empty()),
            jwt_issuer: args.jwt_issuer.clone().or(file.jwt_issuer).filter(|s| !s.is_empty()),
            jwks_min_refresh_interval: args
                .jwks_min_refresh_ms
                .or(file.jwks_min_refresh_ms)
                .map(Duration::from_millis)
                .unwrap_or(d.jwks_min_refresh_interval),
            usage_flush_interval: args
                .usage_flush_interval_ms
                .or(file.usage_flush_interval_ms)
                .map(Duration::from_millis)
                .unwrap_or(d.usage_flush_interval),
            background_jobs: args.background_jobs.or(file.background_jobs).unwrap_or(d.background_jobs),
            scheduler_interval: millis(args.scheduler_interval_ms.or(file.scheduler_interval_ms), d.scheduler_interval),
            scheduled_rotation_grace: args
                .scheduled_rotation_grace_secs
                .or(file.scheduled_rotation_grace_secs)
                .map(Duration::from_secs)
                .unwrap_or(d.scheduled_rotation_grace),
            webhook_poll_interval: millis(
                args.webhook_poll_interval_ms.or(file.webhook_poll_interval_ms),
                d.webhook_poll_interval,
            ),
            webhook_retry_delays: match args.webhook_retry_delays_ms.clone().or(file.webhook_retry_delays_ms) {
                Some(list) => parse_delays(&list)?,
                None => d.webhook_retry_delays,
            },
            webhook_timeout: millis(args.webhook_timeout_ms.or(file.webhook_timeout_ms), d.webhook_timeout),
            webhook_allow_private: args.webhook_allow_private.or(file.webhook_allow_private).unwrap_or(false),
            leak_report_keys: match args.leak_report_public_keys.clone().or(file.leak_report_public_keys) {
                Some(path) => load_leak_report_keys(&path)?,
                None => Vec::new(),
            },
            secrets_key: args
                .secrets_key
                .clone()
                .or(file.secrets_key)
                .filter(|s| !s.trim().is_empty())
                .map(SecretString),
            secrets_key_previous: args
                .secrets_key_previous
                .clone()
                .or(file.secrets_key_previous)
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| SecretString(s.to_string()))
                .collect(),
            webhook_max_endpoints: args
                .webhook_max_endpoints
                .or(file.webhook_max_endpoints)
                .unwrap_or(d.webhook_max_endpoints),
            webhook_proxy: match args.webhook_proxy.clone().or(file.webhook_proxy).filter(|s| !s.trim().is_empty()) {
                Some(proxy) => {
                    reqwest::Proxy::all(proxy.as_str())
                        .map_err(|_| anyhow::anyhow!("webhook_proxy: not a proxy URL"))?;
                    Some(SecretString(proxy))
                }
                None => None,
            },
            usage_retention_days: match args.usage_retention_days.or(file.usage_retention_days) {
                Some(days) => (days > 0).then_some(days),
                None => d.usage_retention_days,
            },
            audit_retention_days: args.audit_retention_days.or(file.audit_retention_days).filter(|&days| days > 0),
        })
    }
}

fn millis(value: Option<u64>, default: Duration) -> Duration {
    value.map(|ms| Duration::from_millis(ms.max(1))).unwrap_or(default)
}

/// `"10.0.0.0/8, 192.0.2.1"` → networks (a bare address is a /32 or /128).
fn parse_cidrs(setting: &str, list: &str) -> anyhow::Result<Vec<ipnet::IpNet>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .with_context(|| format!("{setting}: `{s}` is not an IP address or CIDR block"))
        })
        .collect()
}

/// `"5000,30000"` → delays; empty means no retries.
fn parse_delays(list: &str) -> anyhow::Result<Vec<Duration>> {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>()
                .map(Duration::from_millis)
                .with_context(|| format!("webhook_retry_delays_ms: `{s}` is not a number of milliseconds"))
        })
        .collect()
}

/// Every `PUBLIC KEY` block of a PEM file, as DER; each must be an ECDSA P-256 key.
pub fn load_leak_report_keys(path: &std::path::Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("leak_report_public_keys: reading {}", path.display()))?;
    let blocks =
        pem::parse_many(&text).with_context(|| format!("leak_report_public_keys: {} is not PEM", path.display()))?;
    let keys: Vec<Vec<u8>> =
        blocks.into_iter().filter(|b| b.tag() == "PUBLIC KEY").map(|b| b.into_contents()).collect();
    anyhow::ensure!(!keys.is_empty(), "leak_report_public_keys: no `PUBLIC KEY` block in {}", path.display());
    for (i, der) in keys.iter().enumerate() {
        anyhow::ensure!(
            crate::domain::leaks::is_p256_public_key(der),
            "leak_report_public_keys: key {} in {} is not an ECDSA P-256 public key",
            i + 1,
            path.display()
        );
    }
    Ok(keys)
}

/// A configured secret: `Debug` prints `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(pub String);

impl SecretString {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

fn read_file(path: &std::path::Path) -> anyhow::Result<FileSettings> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}
