//! `/metrics` in the Prometheus text format (`docs/architecture.md#http-conventions`), rendered by our own
//! handler: HTTP requests and latency by route template and status, verify
//! outcomes by code, the key cache's hits and misses, database pool usage.
//! Per request the cost is two label lookups and a few atomic adds.

use crate::{cache::KeyCache, domain::verify::VerifyCode, ratelimit::RateLimiter, store::Store};
use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use std::{
    sync::{Arc, Mutex, atomic::Ordering},
    time::Instant,
};

const LATENCY_BUCKETS: &[f64] =
    &[0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

const CODES: [VerifyCode; 10] = [
    VerifyCode::Valid,
    VerifyCode::NotFound,
    VerifyCode::Malformed,
    VerifyCode::Revoked,
    VerifyCode::Expired,
    VerifyCode::ForbiddenIp,
    VerifyCode::InsufficientScopes,
    VerifyCode::RateLimited,
    VerifyCode::UsageExceeded,
    VerifyCode::Disabled,
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    verify: [IntCounter; CODES.len()],
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    cache_entries: IntGauge,
    cache_hit_ratio: prometheus::Gauge,
    rate_limit_buckets: IntGauge,
    pool_size: IntGauge,
    pool_idle: IntGauge,
    in_place_reads: IntCounter,
    in_place_read_failures: IntCounter,
    /// Webhook attempts by outcome: `delivered`, `retry`, `dead_lettered`.
    webhook_attempts: IntCounterVec,
    /// Serializes renders (the cache counters are synced from atomics).
    render: Mutex<()>,
}

fn register<T: prometheus::core::Collector + Clone + 'static>(registry: &Registry, metric: T) -> T {
    registry.register(Box::new(metric.clone())).expect("metric names are unique");
    metric
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let r = Registry::new_custom(Some("keyward".into()), None).expect("valid prefix");
        let requests = register(
            &r,
            IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests by method, route template and status"),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
        );
        let latency = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "HTTP request latency by route template and status",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
        );
        let outcomes = register(
            &r,
            IntCounterVec::new(Opts::new("verify_outcomes_total", "Key verifications by outcome code"), &["code"])
                .expect("valid metric"),
        );
        let verify = CODES.map(|c| outcomes.with_label_values(&[c.as_str()]));
        let counter = |name: &str, help: &str| register(&r, IntCounter::new(name, help).expect("valid metric"));
        let gauge = |name: &str, help: &str| register(&r, IntGauge::new(name, help).expect("valid metric"));
        Metrics {
            cache_hits: counter("key_cache_hits_total", "Key lookups answered from the in-memory cache"),
            cache_misses: counter("key_cache_misses_total", "Key lookups that went to the database"),
            cache_entries: gauge("key_cache_entries", "Entries (positive and negative) in the key cache"),
            cache_hit_ratio: register(
                &r,
                prometheus::Gauge::new("key_cache_hit_ratio", "Cache hits / lookups since start")
                    .expect("valid metric"),
            ),
            rate_limit_buckets: gauge("rate_limit_buckets", "Rate-limit buckets held in memory"),
            pool_size: gauge("db_pool_connections", "Open database connections"),
            pool_idle: gauge("db_pool_idle_connections", "Idle database connections"),
            in_place_reads: counter("db_in_place_reads_total", "SQLite key reads run on the request's own thread"),
            in_place_read_failures: counter(
                "db_in_place_read_failures_total",
                "SQLite key reads that failed in place and went through the pool",
            ),
            webhook_attempts: register(
                &r,
                IntCounterVec::new(
                    Opts::new("webhook_attempts_total", "Webhook delivery attempts by outcome"),
                    &["outcome"],
                )
                .expect("valid metric"),
            ),
            registry: r,
            requests,
            latency,
            verify,
            render: Mutex::new(()),
        }
    }

    pub fn verify_outcome(&self, code: VerifyCode) {
        if let Some(i) = CODES.iter().position(|c| *c == code) {
            self.verify[i].inc();
        }
    }

    /// One webhook attempt ended: `delivered`, `retry` or `dead_lettered`.
    pub fn webhook_attempt(&self, outcome: &str) {
        self.webhook_attempts.with_label_values(&[outcome]).inc();
    }

    fn observe(&self, method: &str, route: &str, status: &str, seconds: f64) {
        let labels = [method, route, status];
        self.requests.with_label_values(&labels).inc();
        self.latency.with_label_values(&labels).observe(seconds);
    }

    /// The exposition text, with the sampled values brought up to date.
    pub fn render(&self, keys: &KeyCache, limiter: &RateLimiter, store: &Store) -> String {
        let _guard = self.render.lock().unwrap_or_else(|p| p.into_inner());
        let stats = keys.stats();
        let (hits, misses) = (stats.hits.load(Ordering::Relaxed), stats.misses.load(Ordering::Relaxed));
        self.cache_hits.inc_by(hits.saturating_sub(self.cache_hits.get()));
        self.cache_misses.inc_by(misses.saturating_sub(self.cache_misses.get()));
        self.cache_entries.set(keys.entry_count() as i64);
        self.cache_hit_ratio.set(if hits + misses == 0 { 0.0 } else { hits as f64 / (hits + misses) as f64 });
        self.rate_limit_buckets.set(limiter.len() as i64);
        let pool = store.pool();
        self.pool_size.set(i64::from(pool.size()));
        self.pool_idle.set(pool.num_idle() as i64);
        if let Some((reads, failures)) = store.in_place_reads() {
            self.in_place_reads.inc_by(reads.saturating_sub(self.in_place_reads.get()));
            self.in_place_read_failures.inc_by(failures.saturating_sub(self.in_place_read_failures.get()));
        }
        let mut out = Vec::with_capacity(16 * 1024);
        if let Err(err) = TextEncoder::new().encode(&self.registry.gather(), &mut out) {
            tracing::warn!(error = %err, "encoding metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Middleware: count and time every request by its route template.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    // Every label comes from a closed set, whatever a client sends: the method
    // from the standard ones, the route from the router's templates, the
    // status from the three-digit codes.
    let route = route.as_ref().map_or("unmatched", |p| p.as_str());
    metrics.observe(method_label(&method), route, response.status().as_str(), start.elapsed().as_secs_f64());
    response
}

/// The method label: a standard method, else `other` (`FOO`, `PURGE`, …).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
