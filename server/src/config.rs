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
}

/// The same settings as they may appear in `keyward.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    database_url: Option<String>,
    log: Option<String>,
    log_format: Option<String>,
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
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub log: String,
    pub log_json: bool,
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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            database_url: DEFAULT_DATABASE_URL.to_string(),
            log: "info".to_string(),
            log_json: false,
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
        })
    }
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
