//! Resource handles: `client.api_keys()` (including key import),
//! `client.organization_api_keys()`, `client.projects()`, `client.keys()`.
//!
//! Each method builds the generated request anew for every attempt (so a
//! retry re-sends the same body and the same `Idempotency-Key`) and runs it
//! through [`Client::call`], which applies timeouts and retries.

use futures::Stream;
use reqwest::header::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::client::Client;
use crate::error::Error;
use crate::generated::types;
use crate::generated::{ClientApiKeysExt, ClientOrganizationApiKeysExt, ClientProjectsExt, ClientVerificationExt};
use crate::pagination::{Page, paginate};
use crate::retry::RetrySafety;
use crate::secret::Secret;

/// A newly issued key: its stored (masked) record and the plaintext, which the
/// server shows only this once.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedKey {
    /// The key as stored; `key_prefix` and `last4` identify it later.
    pub api_key: types::ApiKey,
    /// The full key. Hand it to its owner now: it cannot be fetched again.
    pub key: Secret,
}

impl CreatedKey {
    /// Splits the server's flat "ApiKey + key" body into record and secret.
    fn from_flat(created: types::CreatedApiKey) -> Result<CreatedKey, Error> {
        let (api_key, key) = split_secret(created, "key")?;
        Ok(CreatedKey { api_key, key })
    }
}

/// Splits a flat "record + secret" body (`CreatedApiKey`, `CreatedWebhookEndpoint`)
/// into the record without the secret and the secret, wrapped.
///
/// Going through JSON (rather than moving every field by hand) keeps this
/// correct when the spec adds a field to the record and codegen reruns.
pub(crate) fn split_secret<Flat: Serialize, Record: DeserializeOwned>(
    flat: Flat,
    secret_field: &str,
) -> Result<(Record, Secret), Error> {
    let mut fields = serde_json::to_value(flat).map_err(|error| Error::Decode(error.to_string()))?;
    let plaintext = fields
        .as_object_mut()
        .and_then(|object| object.remove(secret_field))
        .and_then(|secret| secret.as_str().map(str::to_owned))
        .ok_or_else(|| Error::Decode(format!("response without its `{secret_field}`")))?;
    let record = serde_json::from_value(fields).map_err(|error| Error::Decode(error.to_string()))?;
    Ok((record, Secret::new(plaintext)))
}

/// The `key_hash` of a key to import with [`ApiKeys::import`]: the SHA-256 of
/// the key's full text, as 64 lower-case hex characters (what the server
/// stores and what a hand-rolled key table usually holds already).
///
/// ```
/// assert_eq!(
///     keyward::key_hash("test"),
///     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
/// );
/// ```
pub fn key_hash(key: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(key.as_bytes()).iter().fold(String::with_capacity(64), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// The result of a rotation: the new key's plaintext and the rotation details.
#[derive(Debug, Clone, PartialEq)]
pub struct RotatedKey {
    /// `old_key_id`, `new_key_id`, `grace_expires_at`, …; its `key` field is
    /// left empty so the plaintext lives only in [`RotatedKey::key`].
    pub rotation: types::RotatedApiKey,
    /// The new key's plaintext, shown only this once.
    pub key: Secret,
}

/// Filters and cursor for [`ApiKeys::list`] and [`ApiKeys::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListApiKeys {
    /// Only keys of this project.
    pub project_id: Option<Uuid>,
    /// Only keys of this environment, e.g. `live`.
    pub environment: Option<String>,
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this key id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

/// Filters and cursor for [`OrganizationApiKeys::list`] and [`OrganizationApiKeys::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListOrganizationApiKeys {
    /// Only keys of this project.
    pub project_id: Option<Uuid>,
    /// Only keys of this environment, e.g. `live`.
    pub environment: Option<String>,
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<Uuid>,
}

/// Cursor and page size for [`Projects::list`] and [`Projects::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListProjects {
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this project id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

pub(crate) fn next_cursor_header(headers: &HeaderMap) -> Result<Option<String>, Error> {
    match headers.get("x-next-cursor") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|cursor| Some(cursor.to_string()).filter(|cursor| !cursor.is_empty()))
            .map_err(|_| Error::Decode("X-Next-Cursor is not text".into())),
    }
}

/// Cursors are key, project, organization, environment or event ids; the generated builders take them typed.
pub(crate) fn parse_cursor(cursor: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(cursor).map_err(|_| Error::Decode(format!("page cursor {cursor:?} is not an id")))
}

pub(crate) fn page_size(limit: u32) -> Result<i32, Error> {
    i32::try_from(limit).map_err(|_| Error::InvalidConfig(format!("limit {limit} is out of range")))
}

/// Project-level API keys, `/v1/api-keys`. Get one from [`Client::api_keys`].
#[derive(Debug, Clone)]
pub struct ApiKeys {
    client: Client,
}

impl ApiKeys {
    pub(crate) fn new(client: Client) -> ApiKeys {
        ApiKeys { client }
    }

    /// Creates a key and returns it with its plaintext, shown only this once.
    ///
    /// `project_id` defaults to the calling key's project (none for an
    /// org-wide caller: an org-wide key); `scopes` to the project's defaults.
    pub async fn create(&self, request: types::CreateApiKeyRequest) -> Result<CreatedKey, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.create_api_key().idempotency_key(idempotency_key.clone()).body(request.clone()).send()
            })
            .await?;
        CreatedKey::from_flat(response.into_inner())
    }

    /// Every key matching `params`, newest first, fetching further pages (by
    /// `X-Next-Cursor`) as the stream is polled.
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// use futures::TryStreamExt;
    /// let mut keys = client.api_keys().list(keyward::ListApiKeys { limit: Some(100), ..Default::default() });
    /// while let Some(key) = keys.try_next().await? {
    ///     println!("{} {}", key.key_prefix, key.name);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(
        &self,
        params: ListApiKeys,
    ) -> impl Stream<Item = Result<types::ApiKey, Error>> + Send + Unpin + 'static {
        let api_keys = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let api_keys = api_keys.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                api_keys.list_page(params).await
            }
        })
    }

    /// One page of keys; `next_cursor` is set when more follow.
    pub async fn list_page(&self, params: ListApiKeys) -> Result<Page<types::ApiKey>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_api_keys();
                if let Some(project_id) = params.project_id {
                    request = request.project_id(project_id);
                }
                if let Some(environment) = &params.environment {
                    request = request.environment(environment.clone());
                }
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(starting_after) = params.starting_after {
                    request = request.starting_after(starting_after);
                }
                request.send()
            })
            .await?;
        let next_cursor = next_cursor_header(response.headers())?;
        Ok(Page { items: response.into_inner(), next_cursor })
    }

    /// One key, masked (only `key_prefix` and `last4` of the secret).
    pub async fn get(&self, id: Uuid) -> Result<types::ApiKey, Error> {
        let api = self.client.api();
        let response = self.client.call(RetrySafety::Idempotent, move || api.get_api_key().id(id).send()).await?;
        Ok(response.into_inner())
    }

    /// Changes the fields set in `request`; `is_active: Some(false)` disables
    /// the key without revoking it.
    pub async fn update(&self, id: Uuid, request: types::UpdateApiKeyRequest) -> Result<types::ApiKey, Error> {
        let api = self.client.api();
        // A PATCH sets fields to given values, so sending it twice is harmless.
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || api.update_api_key().id(id).body(request.clone()).send())
            .await?;
        Ok(response.into_inner())
    }

    /// Revokes the key at once. Revoking a revoked key succeeds too.
    pub async fn revoke(&self, id: Uuid) -> Result<(), Error> {
        let api = self.client.api();
        self.client.call(RetrySafety::Idempotent, move || api.revoke_api_key().id(id).send()).await?;
        Ok(())
    }

    /// Issues a new secret for the same key id; the old secret stops
    /// verifying at once.
    pub async fn regenerate(&self, id: Uuid) -> Result<CreatedKey, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.regenerate_api_key().id(id).idempotency_key(idempotency_key.clone()).send()
            })
            .await?;
        CreatedKey::from_flat(response.into_inner())
    }

    /// Replaces the key with a new one (new id, same settings). With a grace
    /// period the old key keeps verifying until `grace_expires_at`; without
    /// one (`None` uses the project's default, if any) it is revoked at once.
    pub async fn rotate(&self, id: Uuid, grace_period_seconds: Option<u64>) -> Result<RotatedKey, Error> {
        let grace_period_seconds = grace_period_seconds
            .map(|seconds| {
                i64::try_from(seconds)
                    .map_err(|_| Error::InvalidConfig(format!("grace_period_seconds {seconds} is out of range")))
            })
            .transpose()?;
        let body = types::RotateApiKeyRequest { grace_period_seconds };
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.rotate_api_key().id(id).idempotency_key(idempotency_key.clone()).body(Some(body.clone())).send()
            })
            .await?;
        let mut rotation = response.into_inner();
        let key = Secret::new(std::mem::take(&mut rotation.key));
        Ok(RotatedKey { rotation, key })
    }
}

impl ApiKeys {
    /// Verifications of key `id` by outcome code, in hourly or daily (UTC)
    /// buckets; every field of `params` is optional (default: the last 24 h by hour).
    pub async fn usage(&self, id: Uuid, params: KeyUsage) -> Result<types::ApiKeyUsage, Error> {
        let api = self.client.api();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.get_api_key_usage().id(id);
                if let Some(from) = params.from {
                    request = request.from(from);
                }
                if let Some(to) = params.to {
                    request = request.to(to);
                }
                if let Some(granularity) = params.granularity.clone() {
                    request = request.granularity(granularity);
                }
                request.send()
            })
            .await?;
        Ok(response.into_inner())
    }
}

impl ApiKeys {
    /// Imports existing keys (from a hand-rolled key table) by the SHA-256 of
    /// their full text, so their holders keep using them: they then verify,
    /// list (`source` = `import`), rotate and revoke like keys issued here.
    /// 1–100 keys per call, all imported or none; returns them in request order.
    ///
    /// A hash already stored answers 409 ([`Error::is_conflict`]); an invalid
    /// item answers 400 naming it, e.g. `keys[0].key_hash: …`. Needs
    /// `keys:write`. Compute `key_hash` with [`key_hash`] (or take it from
    /// your table), and never send the plaintext.
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// use keyward::types::ImportedApiKey;
    /// let legacy = "sk_live_legacyABCDEFGH12345678";
    /// let key: ImportedApiKey = ImportedApiKey::builder()
    ///     .key_hash(keyward::key_hash(legacy)) // or the hex your table already stores
    ///     .key_prefix("sk_live_lega")          // what people see of it
    ///     .last4(Some("5678".to_string()))
    ///     .name("legacy billing key")
    ///     .scopes(Some(vec!["billing:read".to_string()]))
    ///     .try_into()
    ///     .expect("all required fields are set");
    /// let imported = client.api_keys().import(vec![key]).await?;
    /// assert_eq!(imported[0].source, keyward::types::KeySource::Import);
    /// assert!(client.keys().verify_key(legacy).await?.valid);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn import(&self, keys: Vec<types::ImportedApiKey>) -> Result<Vec<types::ApiKey>, Error> {
        let body = types::ImportApiKeysRequest { keys };
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.import_api_keys().idempotency_key(idempotency_key.clone()).body(body.clone()).send()
            })
            .await?;
        Ok(response.into_inner().imported)
    }
}

/// Range and bucket size for [`ApiKeys::usage`].
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeyUsage {
    /// Start of the range, rounded down to a bucket start (default: 24 h, or
    /// 30 days for daily buckets, before `to`).
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// End of the range, exclusive (default: now).
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// `Hour` (default; at most 31 days) or `Day` (at most 366).
    pub granularity: Option<types::Granularity>,
}

/// The organization-scoped key family, `/v1/organizations/{org}/api-keys`.
/// Get one from [`Client::organization_api_keys`].
#[derive(Debug, Clone)]
pub struct OrganizationApiKeys {
    client: Client,
}

impl OrganizationApiKeys {
    pub(crate) fn new(client: Client) -> OrganizationApiKeys {
        OrganizationApiKeys { client }
    }

    /// Creates a key in organization `org` (`project_id` in the request is optional).
    pub async fn create(&self, org: Uuid, request: types::CreateApiKeyRequest) -> Result<CreatedKey, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.create_organization_api_key()
                    .org(org)
                    .idempotency_key(idempotency_key.clone())
                    .body(request.clone())
                    .send()
            })
            .await?;
        let created = response.into_inner();
        Ok(CreatedKey { api_key: created.api_key, key: Secret::new(created.plaintext_api_key) })
    }

    /// Every key of `org` matching `params`, newest first, following `next_cursor`.
    pub fn list(
        &self,
        org: Uuid,
        params: ListOrganizationApiKeys,
    ) -> impl Stream<Item = Result<types::ApiKey, Error>> + Send + Unpin + 'static {
        let org_keys = self.clone();
        let first_cursor = params.cursor.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let org_keys = org_keys.clone();
            let mut params = params.clone();
            async move {
                params.cursor = cursor.as_deref().map(parse_cursor).transpose()?;
                org_keys.list_page(org, params).await
            }
        })
    }

    /// One page of `org`'s keys; `next_cursor` is set when more follow.
    pub async fn list_page(&self, org: Uuid, params: ListOrganizationApiKeys) -> Result<Page<types::ApiKey>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_organization_api_keys().org(org);
                if let Some(project_id) = params.project_id {
                    request = request.project_id(project_id);
                }
                if let Some(environment) = &params.environment {
                    request = request.environment(environment.clone());
                }
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(cursor) = params.cursor {
                    request = request.cursor(cursor);
                }
                request.send()
            })
            .await?;
        let list = response.into_inner();
        let next_cursor = list.next_cursor.filter(|cursor| !cursor.is_empty());
        Ok(Page { items: list.api_keys, next_cursor })
    }

    /// Revokes key `id` of organization `org`. Revoking a revoked key succeeds too.
    pub async fn revoke(&self, org: Uuid, id: Uuid) -> Result<(), Error> {
        let api = self.client.api();
        self.client
            .call(RetrySafety::Idempotent, move || api.revoke_organization_api_key().org(org).id(id).send())
            .await?;
        Ok(())
    }
}

/// Projects, `/v1/projects`. Get one from [`Client::projects`].
#[derive(Debug, Clone)]
pub struct Projects {
    client: Client,
}

impl Projects {
    pub(crate) fn new(client: Client) -> Projects {
        Projects { client }
    }

    /// Creates a project (needs `orgs:admin`).
    ///
    /// Besides key defaults, a project sets its key-hygiene policies:
    /// `expiry_warning_days` (0–365, default 7; 0 turns the `api_key.expiring`
    /// and `api_key.rotation_due` warnings off) and `leak_policy` (`Revoke`,
    /// the default, or `Flag`: what a leak report does to a matching key).
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// use keyward::types::{CreateProjectRequest, LeakPolicy};
    /// let project = client
    ///     .projects()
    ///     .create(
    ///         CreateProjectRequest::builder()
    ///             .name("billing")
    ///             .expiry_warning_days(Some(14))
    ///             .leak_policy(Some(LeakPolicy::Flag))
    ///             .try_into()
    ///             .expect("all required fields are set"),
    ///     )
    ///     .await?;
    /// assert_eq!((project.expiry_warning_days, project.leak_policy), (14, LeakPolicy::Flag));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(&self, body: types::CreateProjectRequest) -> Result<types::Project, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.create_project().idempotency_key(idempotency_key.clone()).body(body.clone()).send()
            })
            .await?;
        Ok(response.into_inner())
    }

    /// Every project, newest first, following `X-Next-Cursor`.
    pub fn list(
        &self,
        params: ListProjects,
    ) -> impl Stream<Item = Result<types::Project, Error>> + Send + Unpin + 'static {
        let projects = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let projects = projects.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                projects.list_page(params).await
            }
        })
    }

    /// One page of projects; `next_cursor` is set when more follow.
    pub async fn list_page(&self, params: ListProjects) -> Result<Page<types::Project>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_projects();
                if let Some(limit) = limit {
                    request = request.limit(limit);
                }
                if let Some(starting_after) = params.starting_after {
                    request = request.starting_after(starting_after);
                }
                request.send()
            })
            .await?;
        let next_cursor = next_cursor_header(response.headers())?;
        Ok(Page { items: response.into_inner(), next_cursor })
    }

    /// One project.
    pub async fn get(&self, id: Uuid) -> Result<types::Project, Error> {
        let api = self.client.api();
        let response = self.client.call(RetrySafety::Idempotent, move || api.get_project().id(id).send()).await?;
        Ok(response.into_inner())
    }

    /// Changes the fields set in `request`, including the key-hygiene
    /// policies `expiry_warning_days` and `leak_policy`.
    pub async fn update(&self, id: Uuid, request: types::UpdateProjectRequest) -> Result<types::Project, Error> {
        let api = self.client.api();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || api.update_project().id(id).body(request.clone()).send())
            .await?;
        Ok(response.into_inner())
    }

    /// Revokes every key of the project, then deletes it (needs
    /// `projects:write`: an admin or owner, or an `orgs:admin` key).
    ///
    /// A retry after a lost response may answer 404 (the first attempt
    /// already deleted it).
    pub async fn delete(&self, id: Uuid) -> Result<(), Error> {
        let api = self.client.api();
        self.client.call(RetrySafety::Idempotent, move || api.delete_project().id(id).send()).await?;
        Ok(())
    }
}

/// Key verification, `/v1/keys/verify`. Get one from [`Client::keys`].
#[derive(Debug, Clone)]
pub struct Keys {
    client: Client,
}

impl Keys {
    pub(crate) fn new(client: Client) -> Keys {
        Keys { client }
    }

    /// Verifies a key presented to your service (the caller needs
    /// `keys:verify`). Answers for every well-formed request: check `valid`
    /// and `code` (`VALID`, `NOT_FOUND`, `REVOKED`, `RATE_LIMITED`, …).
    ///
    /// Sends no `Idempotency-Key`. A verify that spends credits (`cost` > 0,
    /// the default is 1) is not retried after a timeout or a broken
    /// connection, since the server may already have counted it; pass
    /// `cost: Some(0)` for a check that spends nothing and is always retried.
    pub async fn verify(&self, request: types::VerifyKeyRequest) -> Result<types::VerifyKeyResponse, Error> {
        let safety =
            if request.cost.unwrap_or(1) > 0 { RetrySafety::OnlyIfNotProcessed } else { RetrySafety::Idempotent };
        let api = self.client.api();
        let response = self.client.call(safety, move || api.verify_key().body(request.clone()).send()).await?;
        Ok(response.into_inner())
    }

    /// Verifies `key` with no scope or IP requirement, spending the default cost of 1.
    pub async fn verify_key(&self, key: &str) -> Result<types::VerifyKeyResponse, Error> {
        self.verify(types::VerifyKeyRequest { key: key.to_string(), cost: None, ip: None, required_scopes: None }).await
    }
}
