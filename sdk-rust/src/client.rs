//! The client, its builder and per-call options.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use progenitor_client::ResponseValue;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use uuid::Uuid;

use crate::error::Error;
use crate::generated;
use crate::retry::RetrySafety;
use crate::secret::Secret;
use crate::transport::{CallLimits, GeneratedError, send_with_retries};

/// Where the client connects when neither the builder nor `KEYWARD_BASE_URL` says.
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";
/// Time one attempt may take, from sending to the last byte of the response.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Time establishing a connection may take.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries after the first attempt, for transient failures only.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "KEYWARD_API_KEY";
/// Environment variable holding the server's base URL.
pub const BASE_URL_ENV: &str = "KEYWARD_BASE_URL";
/// Environment variable holding the organization a session acts in (sent as
/// `X-Organization-Id`; see [`ClientBuilder::organization_id`]).
pub const ORGANIZATION_ID_ENV: &str = "KEYWARD_ORGANIZATION_ID";
/// The request header that selects the organization a session acts in.
pub const ORGANIZATION_ID_HEADER: &str = "X-Organization-Id";

/// An async client for the keyward API.
///
/// Cheap to clone (clones share one connection pool) and `Send + Sync`, so
/// build one at start-up and pass it around. Calls retry transient failures
/// (connection errors, timeouts, 408, 429, 5xx) with exponential backoff,
/// honouring `Retry-After`; every mutating POST carries an `Idempotency-Key`
/// that stays the same across its retries, so a retry never creates twice.
///
/// ```no_run
/// use futures::TryStreamExt;
/// use keyward::{Client, ListApiKeys, types::CreateApiKeyRequest};
///
/// # async fn run() -> Result<(), keyward::Error> {
/// // KEYWARD_API_KEY, and optionally KEYWARD_BASE_URL (default http://127.0.0.1:8080)
/// let client = Client::from_env()?;
///
/// let request: CreateApiKeyRequest = keyward::types::CreateApiKeyRequest::builder()
///     .name("ci deploy key")
///     .scopes(vec!["keys:verify".to_string()])
///     .try_into()
///     .expect("all required fields are set");
/// let created = client.api_keys().create(request).await?;
/// println!("created {} — store it now: {}", created.id, created.key.expose());
///
/// let verdict = client.keys().verify_key(created.key.expose()).await?;
/// assert!(verdict.valid);
///
/// // Every key, page after page, newest first.
/// let keys: Vec<_> = client.api_keys().list(ListApiKeys::default()).try_collect().await?;
/// println!("{} keys", keys.len());
///
/// client.api_keys().revoke(created.id).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    /// Overrides set with [`Client::with_options`]; empty for a built client.
    overrides: RequestOptions,
    /// `overrides.extra_headers`, checked once when set rather than on every
    /// call: the headers, or the error each call made through this client fails with.
    extra_headers: Result<Arc<HeaderMap>, Error>,
}

/// What every clone of a client shares.
struct Shared {
    /// The progenitor client: owns the base URL and the `reqwest` pool.
    api: generated::Client,
    base_url: String,
    api_key: Secret,
    organization_id: Option<Uuid>,
    timeout: Duration,
    max_retries: u32,
}

/// Per-call overrides for [`Client::with_options`]; `None` keeps the client's setting.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RequestOptions {
    /// Time one attempt may take.
    pub timeout: Option<Duration>,
    /// Retries after the first attempt.
    pub max_retries: Option<u32>,
    /// `Idempotency-Key` for mutating POSTs made through the returned client,
    /// instead of a fresh random one per call. Reuse a key only to repeat the
    /// *same* request: the server replays the first response, and answers 409
    /// to a different body under the same key.
    pub idempotency_key: Option<String>,
    /// Headers added to every request made through the returned client (a
    /// tracing id, a proxy's routing header), after the client's own; one
    /// that is not a valid header name or value fails the call with
    /// [`Error::InvalidArgument`] before anything is sent.
    pub extra_headers: Vec<(String, String)>,
}

impl Client {
    /// A client with `api_key`, the base URL from `KEYWARD_BASE_URL` (or
    /// [`DEFAULT_BASE_URL`]) and default timeouts and retries.
    pub fn new(api_key: impl Into<String>) -> Result<Client, Error> {
        Client::builder().api_key(api_key).build()
    }

    /// A client configured from `KEYWARD_API_KEY` (required),
    /// `KEYWARD_BASE_URL` and `KEYWARD_ORGANIZATION_ID` (optional).
    pub fn from_env() -> Result<Client, Error> {
        Client::builder().build()
    }

    /// A builder for every setting.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), keyward::Error> {
    /// let client = keyward::Client::builder()
    ///     .api_key("kw_live_…")
    ///     .base_url("https://keys.example.com")
    ///     .timeout(std::time::Duration::from_secs(10))
    ///     .max_retries(4)
    ///     .build()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client that shares this one's connection pool but applies `options`
    /// to the calls made through it (unset fields keep the current setting).
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// use std::time::Duration;
    /// let patient = client.with_options(keyward::RequestOptions {
    ///     timeout: Some(Duration::from_secs(120)),
    ///     max_retries: Some(5),
    ///     ..Default::default()
    /// });
    /// let projects = patient.projects().list_page(Default::default()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_options(&self, options: RequestOptions) -> Client {
        let extra_headers: Vec<(String, String)> =
            self.overrides.extra_headers.iter().cloned().chain(options.extra_headers).collect();
        Client {
            shared: Arc::clone(&self.shared),
            extra_headers: crate::transport::call_headers(&extra_headers),
            overrides: RequestOptions {
                timeout: options.timeout.or(self.overrides.timeout),
                max_retries: options.max_retries.or(self.overrides.max_retries),
                idempotency_key: options.idempotency_key.or_else(|| self.overrides.idempotency_key.clone()),
                extra_headers,
            },
        }
    }

    /// The organization sent as `X-Organization-Id` on every request, if set.
    pub fn organization_id(&self) -> Option<Uuid> {
        self.shared.organization_id
    }

    /// The server this client talks to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The progenitor-generated client underneath, for operations the facade
    /// does not wrap. Its calls carry the API key but are neither retried nor
    /// bounded by this client's timeout.
    pub fn generated(&self) -> &generated::Client {
        &self.shared.api
    }

    pub(crate) fn api(&self) -> &generated::Client {
        &self.shared.api
    }

    fn limits(&self) -> CallLimits {
        CallLimits {
            timeout: self.overrides.timeout.unwrap_or(self.shared.timeout),
            max_retries: self.overrides.max_retries.unwrap_or(self.shared.max_retries),
        }
    }

    /// The `Idempotency-Key` for one mutating call: the caller's, or a fresh
    /// UUIDv4 that all retries of this call reuse.
    pub(crate) fn idempotency_key(&self) -> String {
        match &self.overrides.idempotency_key {
            Some(key) => key.clone(),
            None => uuid::Builder::from_random_bytes(fresh_random_bytes()).into_uuid().to_string(),
        }
    }

    /// Runs a generated call with this client's timeout and retry policy.
    pub(crate) async fn call<T, Send, Attempt>(
        &self,
        safety: RetrySafety,
        send: Send,
    ) -> Result<ResponseValue<T>, Error>
    where
        Send: FnMut() -> Attempt,
        Attempt: Future<Output = Result<ResponseValue<T>, GeneratedError>>,
    {
        let headers = self.extra_headers.clone()?;
        send_with_retries(self.limits(), safety, headers, send).await
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limits = self.limits();
        f.debug_struct("Client")
            .field("base_url", &self.shared.base_url)
            .field("api_key", &self.shared.api_key)
            .field("organization_id", &self.shared.organization_id)
            .field("timeout", &limits.timeout)
            .field("max_retries", &limits.max_retries)
            .finish()
    }
}

/// Builds a [`Client`]; get one from [`Client::builder`].
///
/// Settings left unset come from `KEYWARD_API_KEY` / `KEYWARD_BASE_URL` /
/// `KEYWARD_ORGANIZATION_ID`, then
/// from the defaults: base URL [`DEFAULT_BASE_URL`], timeout 30 s, connect
/// timeout 5 s, 2 retries, user agent `keyward-rust/<version>`.
#[derive(Default, Clone)]
pub struct ClientBuilder {
    api_key: Option<Secret>,
    base_url: Option<String>,
    organization_id: Option<Uuid>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_retries: Option<u32>,
    user_agent: Option<String>,
}

impl ClientBuilder {
    /// The API key sent as `Authorization: Bearer …` (else `KEYWARD_API_KEY`).
    pub fn api_key(mut self, api_key: impl Into<String>) -> ClientBuilder {
        self.api_key = Some(Secret::new(api_key));
        self
    }

    /// The server, e.g. `https://keys.example.com` (else `KEYWARD_BASE_URL`,
    /// else [`DEFAULT_BASE_URL`]). A path stem is kept; a trailing slash is not needed.
    pub fn base_url(mut self, base_url: impl Into<String>) -> ClientBuilder {
        self.base_url = Some(base_url.into());
        self
    }

    /// The organization a dashboard session acts in, sent as
    /// `X-Organization-Id` on every request (else `KEYWARD_ORGANIZATION_ID`;
    /// unset: the server picks the session's `org_id` claim or the user's first
    /// organization). Paths naming an organization (`/v1/organizations/{org}/…`)
    /// take precedence; an API key always acts in its own organization.
    pub fn organization_id(mut self, organization_id: Uuid) -> ClientBuilder {
        self.organization_id = Some(organization_id);
        self
    }

    /// Time one attempt may take, from sending to the last byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = Some(timeout);
        self
    }

    /// Time establishing a connection may take (default 5 s).
    pub fn connect_timeout(mut self, connect_timeout: Duration) -> ClientBuilder {
        self.connect_timeout = Some(connect_timeout);
        self
    }

    /// Retries after the first attempt, for transient failures (default 2; 0 disables).
    pub fn max_retries(mut self, max_retries: u32) -> ClientBuilder {
        self.max_retries = Some(max_retries);
        self
    }

    /// The `User-Agent` header (default `keyward-rust/<version>`). Bindings set
    /// their own, e.g. `keyward-python/0.1.0`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> ClientBuilder {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Validates the settings and builds the client. Fails with
    /// [`Error::InvalidConfig`] when no API key is given or found, when the
    /// base URL, key or user agent cannot be used in a request, or when
    /// `KEYWARD_ORGANIZATION_ID` is not a UUID.
    pub fn build(self) -> Result<Client, Error> {
        let api_key =
            match self.api_key {
                Some(key) => key,
                None => Secret::new(env_var(API_KEY_ENV).ok_or_else(|| {
                    Error::InvalidConfig(format!("no API key: call .api_key(..) or set {API_KEY_ENV}"))
                })?),
            };
        if api_key.expose().trim().is_empty() {
            return Err(Error::InvalidConfig("the API key is empty".into()));
        }
        let base_url = normalize_base_url(
            &self.base_url.or_else(|| env_var(BASE_URL_ENV)).unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
        )?;
        let organization_id = match self.organization_id {
            Some(id) => Some(id),
            None => env_var(ORGANIZATION_ID_ENV).map(|raw| parse_organization_id(&raw)).transpose()?,
        };
        let timeout = self.timeout.unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            return Err(Error::InvalidConfig("timeout must be greater than zero".into()));
        }

        let mut authorization = HeaderValue::from_str(&format!("Bearer {}", api_key.expose())).map_err(|_| {
            Error::InvalidConfig("the API key contains characters not allowed in an HTTP header".into())
        })?;
        // Keeps the key out of reqwest's and hyper's debug output.
        authorization.set_sensitive(true);
        let mut default_headers = HeaderMap::new();
        default_headers.insert(AUTHORIZATION, authorization);
        if let Some(organization_id) = organization_id {
            let value = HeaderValue::from_str(&organization_id.to_string())
                .map_err(|_| Error::InvalidConfig("the organization id is not a valid header value".into()))?;
            default_headers.insert(ORGANIZATION_ID_HEADER, value);
        }
        let user_agent = self.user_agent.unwrap_or_else(|| format!("keyward-rust/{}", env!("CARGO_PKG_VERSION")));

        // No overall reqwest timeout: each attempt is bounded by the facade, so
        // `with_options` can lengthen it without a second pool.
        let http = reqwest::Client::builder()
            .default_headers(default_headers)
            .user_agent(user_agent)
            .connect_timeout(self.connect_timeout.unwrap_or(DEFAULT_CONNECT_TIMEOUT))
            .build()
            .map_err(|error| Error::InvalidConfig(format!("cannot build the HTTP client: {error}")))?;

        Ok(Client {
            shared: Arc::new(Shared {
                api: generated::Client::new_with_client(&base_url, http),
                base_url,
                api_key,
                organization_id,
                timeout,
                max_retries: self.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
            }),
            overrides: RequestOptions::default(),
            extra_headers: Ok(Arc::default()),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("base_url", &self.base_url)
            .field("organization_id", &self.organization_id)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

/// 16 bytes straight from the OS. Not from `rand::rng()`: a thread-local
/// generator is copied into forked children (pre-fork servers, Python
/// `multiprocessing`), which would then produce the same "random" idempotency
/// keys and have their different requests rejected as conflicting replays.
fn fresh_random_bytes() -> [u8; 16] {
    use rand::TryRngCore;
    let mut bytes = [0u8; 16];
    match rand::rngs::OsRng.try_fill_bytes(&mut bytes) {
        Ok(()) => bytes,
        // The OS source essentially never fails; if it does, a process-local
        // generator is still far better than no idempotency key.
        Err(_) => rand::random(),
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|value| value.trim().to_string()).filter(|value| !value.is_empty())
}

/// `KEYWARD_ORGANIZATION_ID`, already trimmed by [`env_var`].
fn parse_organization_id(raw: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(raw).map_err(|_| Error::InvalidConfig(format!("{ORGANIZATION_ID_ENV} {raw:?} is not a UUID")))
}

/// Checks the URL and drops a trailing slash: generated paths start with `/`.
fn normalize_base_url(raw: &str) -> Result<String, Error> {
    let parsed = reqwest::Url::parse(raw.trim())
        .map_err(|error| Error::InvalidConfig(format!("base URL {raw:?} is not a URL: {error}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::InvalidConfig(format!("base URL {raw:?} must be http:// or https:// with a host")));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::InvalidConfig(format!("base URL {raw:?} must not have a query or fragment")));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_loses_trailing_slash_and_keeps_path_stem() {
        assert_eq!(normalize_base_url("http://127.0.0.1:8080/").unwrap(), "http://127.0.0.1:8080");
        assert_eq!(normalize_base_url("https://example.com/keyward/").unwrap(), "https://example.com/keyward");
        assert!(matches!(normalize_base_url("127.0.0.1:8080"), Err(Error::InvalidConfig(_))));
        assert!(matches!(normalize_base_url("ftp://example.com"), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn debug_never_prints_the_api_key() {
        let client = Client::builder()
            .api_key("kw_live_abc1SECRETSECRETSECRETSECRETSECRET")
            .base_url("http://127.0.0.1:1")
            .build()
            .unwrap();
        let printed = format!("{client:?}");
        assert!(printed.contains("kw_live_abc1…"), "{printed}");
        assert!(!printed.contains("SECRET"), "{printed}");
    }

    #[test]
    fn organization_id_is_kept_and_its_env_form_checked() {
        let org = Uuid::parse_str("0193a3c1-0000-7000-8000-000000000001").unwrap();
        let client = Client::builder()
            .api_key("kw_live_abcd")
            .base_url("http://127.0.0.1:1")
            .organization_id(org)
            .build()
            .unwrap();
        assert_eq!(client.organization_id(), Some(org));
        assert_eq!(client.with_options(RequestOptions::default()).organization_id(), Some(org));
        assert!(format!("{client:?}").contains(&org.to_string()));
        assert_eq!(parse_organization_id(&org.to_string()).unwrap(), org);
        assert!(matches!(parse_organization_id("acme"), Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn rejects_a_key_that_cannot_be_a_header() {
        let built = Client::builder().api_key("kw_live_\nabc").base_url("http://127.0.0.1:1").build();
        assert!(matches!(built, Err(Error::InvalidConfig(_))));
    }

    #[test]
    fn with_options_overrides_only_what_it_sets() {
        let client =
            Client::builder().api_key("kw_live_abcd").base_url("http://127.0.0.1:1").max_retries(7).build().unwrap();
        let patient =
            client.with_options(RequestOptions { timeout: Some(Duration::from_secs(99)), ..Default::default() });
        assert_eq!(patient.limits().timeout, Duration::from_secs(99));
        assert_eq!(patient.limits().max_retries, 7);
        let keyed = patient.with_options(RequestOptions { idempotency_key: Some("k1".into()), ..Default::default() });
        assert_eq!(keyed.limits().timeout, Duration::from_secs(99));
        assert_eq!(keyed.idempotency_key(), "k1");
        assert_ne!(client.idempotency_key(), client.idempotency_key());
    }
}
