//! Webhook resource handles: `client.webhook_endpoints()`,
//! `client.webhook_deliveries()`, `client.webhook_signing_secret()`.
//!
//! Same patterns as [`crate::resources`]: every attempt rebuilds the generated
//! request, lists follow `X-Next-Cursor`, mutating POSTs carry one
//! `Idempotency-Key` across their retries, and secrets come back as
//! [`Secret`]. To check the signature of a delivery you receive, see
//! [`crate::webhooks`].

use futures::Stream;
use uuid::Uuid;

use crate::client::Client;
use crate::error::Error;
use crate::generated::ClientWebhooksExt;
use crate::generated::types;
use crate::pagination::{Page, paginate};
use crate::resources::{next_cursor_header, page_size, parse_cursor, split_secret};
use crate::retry::RetrySafety;
use crate::secret::Secret;

/// A webhook endpoint with its signing secret, which the server shows only
/// when the endpoint is created and when its secret is rotated.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedEndpoint {
    /// The endpoint as stored (what [`WebhookEndpoints::get`] returns later).
    pub endpoint: types::WebhookEndpoint,
    /// The `whsec_…` secret that signs its deliveries: pass
    /// `secret.expose()` to [`crate::webhooks::verify`] (or
    /// [`crate::webhooks::Webhook::new`]) in your receiver. Store it now: it
    /// cannot be fetched again.
    pub secret: Secret,
}

impl CreatedEndpoint {
    /// Splits the server's flat "endpoint + secret" body.
    fn from_flat(created: types::CreatedWebhookEndpoint) -> Result<CreatedEndpoint, Error> {
        let (endpoint, secret) = split_secret(created, "secret")?;
        Ok(CreatedEndpoint { endpoint, secret })
    }
}

/// Cursor and page size for [`WebhookEndpoints::list`] and [`WebhookEndpoints::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListWebhookEndpoints {
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this endpoint id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

/// Filters and cursor for [`WebhookDeliveries::list`] and [`WebhookDeliveries::list_page`].
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ListWebhookDeliveries {
    /// Only deliveries to this endpoint.
    pub endpoint_id: Option<Uuid>,
    /// Only deliveries to this key's own `rotation_webhook_url`.
    pub api_key_id: Option<Uuid>,
    /// Only events of this type, e.g. `WebhookEventType::ApiKeyCreated`.
    pub event_type: Option<types::WebhookEventType>,
    /// Only `Pending`, `Succeeded` or `Failed` (dead-lettered) deliveries.
    pub status: Option<types::WebhookDeliveryStatus>,
    /// Page size, 1–200 (server default 50).
    pub limit: Option<u32>,
    /// Start after this delivery id: the previous page's `next_cursor`.
    pub starting_after: Option<Uuid>,
}

/// Where the organization's key events are delivered,
/// `/v1/webhook-endpoints` (owners and admins, or an `orgs:admin` key). Get
/// one from [`Client::webhook_endpoints`].
#[derive(Debug, Clone)]
pub struct WebhookEndpoints {
    client: Client,
}

impl WebhookEndpoints {
    pub(crate) fn new(client: Client) -> WebhookEndpoints {
        WebhookEndpoints { client }
    }

    /// Creates an endpoint and returns it with its signing secret, shown only
    /// this once. `event_types` left `None` (or empty) subscribes to every
    /// event; the URL must be absolute http(s), and private, loopback and
    /// link-local targets are refused unless the server allows them. An
    /// invalid field answers 400 naming it ([`Error::is_bad_request`]).
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// use keyward::types::{CreateWebhookEndpointRequest, WebhookEventType};
    /// let created = client
    ///     .webhook_endpoints()
    ///     .create(CreateWebhookEndpointRequest {
    ///         url: "https://hooks.example.com/keyward".into(),
    ///         description: Some("key events to ops".into()),
    ///         event_types: Some(vec![WebhookEventType::ApiKeyRotated, WebhookEventType::ApiKeyLeaked]),
    ///         is_active: None,
    ///     })
    ///     .await?;
    /// // Configure your receiver with this now; it is never shown again.
    /// let secret = created.secret.expose();
    /// # let _ = secret;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn create(&self, request: types::CreateWebhookEndpointRequest) -> Result<CreatedEndpoint, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.create_webhook_endpoint().idempotency_key(idempotency_key.clone()).body(request.clone()).send()
            })
            .await?;
        CreatedEndpoint::from_flat(response.into_inner())
    }

    /// Every endpoint of the caller's organization, newest first, following
    /// `X-Next-Cursor`. Deleted endpoints are not listed.
    pub fn list(
        &self,
        params: ListWebhookEndpoints,
    ) -> impl Stream<Item = Result<types::WebhookEndpoint, Error>> + Send + Unpin + 'static {
        let endpoints = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let endpoints = endpoints.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                endpoints.list_page(params).await
            }
        })
    }

    /// One page of endpoints; `next_cursor` is set when more follow.
    pub async fn list_page(&self, params: ListWebhookEndpoints) -> Result<Page<types::WebhookEndpoint>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_webhook_endpoints();
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

    /// One endpoint, without its secret. A deleted one (or another tenant's)
    /// answers 404.
    pub async fn get(&self, id: Uuid) -> Result<types::WebhookEndpoint, Error> {
        let api = self.client.api();
        let response =
            self.client.call(RetrySafety::Idempotent, move || api.get_webhook_endpoint().id(id).send()).await?;
        Ok(response.into_inner())
    }

    /// Changes the fields set in `request`: `event_types: Some(vec![])`
    /// subscribes to every event again, `is_active: Some(false)` pauses
    /// deliveries (events are not queued for it meanwhile).
    pub async fn update(
        &self,
        id: Uuid,
        request: types::UpdateWebhookEndpointRequest,
    ) -> Result<types::WebhookEndpoint, Error> {
        let api = self.client.api();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || api.update_webhook_endpoint().id(id).body(request.clone()).send())
            .await?;
        Ok(response.into_inner())
    }

    /// Deletes the endpoint: no new deliveries go to it (those already
    /// queued still do). A retry after a lost response may answer 404.
    pub async fn delete(&self, id: Uuid) -> Result<(), Error> {
        let api = self.client.api();
        self.client.call(RetrySafety::Idempotent, move || api.delete_webhook_endpoint().id(id).send()).await?;
        Ok(())
    }

    /// Replaces the endpoint's signing secret and returns the new one, shown
    /// only this once. The old secret stops signing at once, so deploy the
    /// new one to your receiver promptly; deliveries sent from now on,
    /// redeliveries included, are signed with it.
    pub async fn rotate_secret(&self, id: Uuid) -> Result<CreatedEndpoint, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.rotate_webhook_endpoint_secret().id(id).idempotency_key(idempotency_key.clone()).send()
            })
            .await?;
        CreatedEndpoint::from_flat(response.into_inner())
    }
}

/// Every event's delivery to each destination, with its attempts and
/// outcome, `/v1/webhook-deliveries` (owners and admins, or an `orgs:admin`
/// key). Get one from [`Client::webhook_deliveries`].
#[derive(Debug, Clone)]
pub struct WebhookDeliveries {
    client: Client,
}

impl WebhookDeliveries {
    pub(crate) fn new(client: Client) -> WebhookDeliveries {
        WebhookDeliveries { client }
    }

    /// Every delivery matching `params`, newest first, following `X-Next-Cursor`.
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// use futures::TryStreamExt;
    /// use keyward::types::WebhookDeliveryStatus;
    /// // Send every dead-lettered delivery again.
    /// let failed: Vec<_> = client
    ///     .webhook_deliveries()
    ///     .list(keyward::ListWebhookDeliveries { status: Some(WebhookDeliveryStatus::Failed), ..Default::default() })
    ///     .try_collect()
    ///     .await?;
    /// for delivery in failed {
    ///     client.webhook_deliveries().redeliver(delivery.id).await?;
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn list(
        &self,
        params: ListWebhookDeliveries,
    ) -> impl Stream<Item = Result<types::WebhookDelivery, Error>> + Send + Unpin + 'static {
        let deliveries = self.clone();
        let first_cursor = params.starting_after.map(|id| id.to_string());
        paginate(first_cursor, move |cursor| {
            let deliveries = deliveries.clone();
            let mut params = params.clone();
            async move {
                params.starting_after = cursor.as_deref().map(parse_cursor).transpose()?;
                deliveries.list_page(params).await
            }
        })
    }

    /// One page of deliveries; `next_cursor` is set when more follow.
    pub async fn list_page(&self, params: ListWebhookDeliveries) -> Result<Page<types::WebhookDelivery>, Error> {
        let api = self.client.api();
        let limit = params.limit.map(page_size).transpose()?;
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                let mut request = api.list_webhook_deliveries();
                if let Some(endpoint_id) = params.endpoint_id {
                    request = request.endpoint_id(endpoint_id);
                }
                if let Some(api_key_id) = params.api_key_id {
                    request = request.api_key_id(api_key_id);
                }
                if let Some(event_type) = params.event_type.clone() {
                    request = request.event_type(event_type);
                }
                if let Some(status) = params.status.clone() {
                    request = request.status(status);
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

    /// One delivery, with its signed `payload` and the outcome of its last attempt.
    pub async fn get(&self, id: Uuid) -> Result<types::WebhookDelivery, Error> {
        let api = self.client.api();
        let response =
            self.client.call(RetrySafety::Idempotent, move || api.get_webhook_delivery().id(id).send()).await?;
        Ok(response.into_inner())
    }

    /// Queues the delivery again now (the server answers 202 with it as
    /// queued), with the same `webhook-id`, a fresh retry schedule, and the
    /// destination's current secret. A delivery still pending is simply
    /// attempted now.
    pub async fn redeliver(&self, id: Uuid) -> Result<types::WebhookDelivery, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.redeliver_webhook().id(id).idempotency_key(idempotency_key.clone()).send()
            })
            .await?;
        Ok(response.into_inner())
    }
}

/// The organization's signing secret for deliveries to keys' own
/// `rotation_webhook_url` (`api_key.rotated` and `api_key.rotation_due`),
/// `/v1/webhook-signing-secret` (owners and admins, or an `orgs:admin` key).
/// Endpoints have their own secrets ([`WebhookEndpoints::rotate_secret`]).
/// Get one from [`Client::webhook_signing_secret`].
#[derive(Debug, Clone)]
pub struct SigningSecret {
    client: Client,
}

impl SigningSecret {
    pub(crate) fn new(client: Client) -> SigningSecret {
        SigningSecret { client }
    }

    /// Replaces the organization's signing secret and returns the new one,
    /// shown only this once; the previous secret stops signing at once. The
    /// secret exists (unseen) from the first such delivery, so call this once
    /// to learn it.
    ///
    /// ```no_run
    /// # async fn run(client: keyward::Client) -> Result<(), keyward::Error> {
    /// let secret = client.webhook_signing_secret().rotate().await?;
    /// println!("configure the rotation receivers with {}", secret.expose());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn rotate(&self) -> Result<Secret, Error> {
        let api = self.client.api();
        let idempotency_key = self.client.idempotency_key();
        let response = self
            .client
            .call(RetrySafety::Idempotent, move || {
                api.rotate_webhook_signing_secret().idempotency_key(idempotency_key.clone()).send()
            })
            .await?;
        Ok(Secret::new(response.into_inner().secret))
    }
}
