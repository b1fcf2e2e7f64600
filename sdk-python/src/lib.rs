//! `keyward._native`: the pyo3 boundary between the pure-Python `keyward`
//! package and the Rust facade (`keyward::Client`, sdk-rust).
//!
//! Deliberately thin: one client class with two entry points, `call` (sync,
//! the GIL released while Rust does the I/O) and `call_async` (an asyncio
//! awaitable via `pyo3_async_runtimes::generic::future_into_py`). Both run the
//! same async Rust (`dispatch`). Arguments and results cross as JSON
//! (`serde_json::Value` ↔ Python dict/list/str/int/float/bool/None) and are
//! deserialized into the generated request types, so there is no per-field
//! glue here: the typed surface lives in Python (`keyward/_models.py`).
//!
//! Fork safety: a tokio runtime and a reqwest connection pool must not be
//! shared across `os.fork()` (the child has the parent's epoll fd and none of
//! its threads). Both the runtime and each facade `Client` are therefore kept
//! per process id; a child builds its own on first use and *leaks* the
//! parent's copies (dropping them in the child would touch the parent's
//! threads' state). No lock is taken on these paths (an `AtomicPtr` swap), so
//! a fork while another thread held a lock cannot deadlock the child, and
//! Python references are only ever released with the GIL held (see
//! `drop_attached`).

use std::{
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicPtr, Ordering},
    time::Duration,
};

use pyo3::{
    exceptions::{PyTypeError, PyValueError},
    prelude::*,
    types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple},
};
use pyo3_async_runtimes::{TaskLocals, generic};
use serde_json::{Map, Value, json};
use uuid::Uuid;

// ---------------------------------------------------------------------------
// Per-process tokio runtime
// ---------------------------------------------------------------------------

struct ProcRuntime {
    pid: u32,
    rt: tokio::runtime::Runtime,
}

static RUNTIME: AtomicPtr<ProcRuntime> = AtomicPtr::new(std::ptr::null_mut());

/// The tokio runtime of *this* process, created on first use after start or
/// after a fork. Old runtimes are leaked, never dropped.
fn runtime() -> &'static tokio::runtime::Runtime {
    let pid = std::process::id();
    loop {
        let current = RUNTIME.load(Ordering::Acquire);
        // SAFETY: every pointer stored in RUNTIME comes from Box::leak and is
        // never freed, so it stays valid for the life of the process.
        if let Some(slot) = unsafe { current.as_ref() }
            && slot.pid == pid
        {
            return &slot.rt;
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("keyward-py")
            .enable_all()
            .build()
            .expect("keyward: cannot start a tokio runtime");
        let fresh = Box::into_raw(Box::new(ProcRuntime { pid, rt }));
        match RUNTIME.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
            // The previous one (another process's, or null) is leaked on purpose.
            Ok(_) => return unsafe { &(*fresh).rt },
            Err(_) => {
                // Another thread of this process won the race: discard ours.
                // Dropping a runtime we built in this process (no tasks ever
                // spawned on it) is fine.
                drop(unsafe { Box::from_raw(fresh) });
            }
        }
    }
}

/// Drop `value`, which owns Python references, with the GIL held (on a
/// blocking-pool thread, so no async worker waits for the GIL).
///
/// Why not just drop it: a `Py<…>` dropped without the GIL goes to pyo3's
/// global pending-decref pool, guarded by a mutex. If `os.fork()` happens
/// while a tokio worker holds that mutex, the child inherits it locked and
/// deadlocks on its first GIL acquisition. Dropping only under the GIL (which
/// the forking thread holds) means no worker can be inside that lock at fork.
fn drop_attached<T: Send + 'static>(value: T) {
    runtime().spawn_blocking(move || Python::attach(move |_py| drop(value)));
}

/// `pyo3_async_runtimes::generic` runtime that spawns onto [`runtime()`].
struct PidRuntime;

struct JoinErr(tokio::task::JoinError);

impl generic::JoinError for JoinErr {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

type BoxJoin = Pin<Box<dyn Future<Output = Result<(), JoinErr>> + Send>>;

impl generic::Runtime for PidRuntime {
    type JoinError = JoinErr;
    type JoinHandle = BoxJoin;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = runtime().spawn(async move {
            // pyo3-async-runtimes' tasks own Python references (the event
            // loop, the asyncio future): drop them with the GIL held.
            let mut fut = Box::pin(fut);
            fut.as_mut().await;
            drop_attached(fut);
        });
        Box::pin(async move { handle.await.map_err(JoinErr) })
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let handle = runtime().spawn_blocking(f);
        Box::pin(async move { handle.await.map_err(JoinErr) })
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl generic::ContextExt for PidRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(async move {
            let mut scoped = Box::pin(TASK_LOCALS.scope(cell, fut));
            let out = scoped.as_mut().await;
            // The task locals are Python objects: release them under the GIL.
            if let Some(cell) = scoped.as_mut().take_value() {
                drop_attached(cell);
            }
            out
        })
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/// Everything a call can fail with before Python maps it to a class.
enum CallError {
    Api(keyward::Error),
    /// Bad arguments from Python (not a UUID, a field of the wrong type, …).
    Argument(String),
}

impl From<keyward::Error> for CallError {
    fn from(e: keyward::Error) -> Self {
        CallError::Api(e)
    }
}

/// The dict `keyward._exceptions._from_native` turns into the right class.
fn error_info(err: &CallError) -> Value {
    match err {
        CallError::Argument(message) => json!({"kind": "argument", "message": message}),
        CallError::Api(e) => match e {
            keyward::Error::Api { status, code, message, request_id } => json!({
                "kind": "api", "status": status, "code": code,
                "message": message, "request_id": request_id,
            }),
            keyward::Error::Timeout => json!({"kind": "timeout", "message": "request timed out"}),
            keyward::Error::Connection(m) => json!({"kind": "connection", "message": m}),
            keyward::Error::InvalidConfig(m) => json!({"kind": "config", "message": m}),
            keyward::Error::InvalidArgument(m) => json!({"kind": "argument", "message": m}),
            keyward::Error::Decode(m) => json!({"kind": "decode", "message": m}),
            #[allow(unreachable_patterns)]
            other => json!({"kind": "other", "message": other.to_string()}),
        },
    }
}

fn to_pyerr(py: Python<'_>, err: CallError) -> PyErr {
    info_to_pyerr(py, &error_info(&err))
}

/// The exception `keyward._exceptions._from_native` builds for `info`.
fn info_to_pyerr(py: Python<'_>, info: &Value) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let module = py.import("keyward._exceptions")?;
        let exc = module.call_method1("_from_native", (json_to_py(py, info)?,))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

// ---------------------------------------------------------------------------
// JSON <-> Python
// ---------------------------------------------------------------------------

fn py_to_json(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    // bool before int: Python's bool is a subclass of int.
    if obj.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(obj.extract::<bool>()?));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err("integer out of range for JSON (64-bit)"));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f = obj.extract::<f64>()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err("NaN and infinity are not valid JSON"));
    }
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::String(obj.extract::<String>()?));
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(dict.len());
        for (k, v) in dict.iter() {
            let key: String = k.extract().map_err(|_| PyTypeError::new_err("JSON object keys must be str"))?;
            map.insert(key, py_to_json(&v)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|v| py_to_json(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple.iter().map(|v| py_to_json(&v)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    Err(PyTypeError::new_err(format!(
        "cannot send a value of type {} as JSON",
        obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into())
    )))
}

fn json_to_py(py: Python<'_>, value: &Value) -> PyResult<Py<PyAny>> {
    Ok(match value {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any().unbind()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any().unbind()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any().unbind()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(json_to_py(py, item)?)?;
            }
            list.into_any().unbind()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, json_to_py(py, v)?)?;
            }
            dict.into_any().unbind()
        }
    })
}

// ---------------------------------------------------------------------------
// Dispatch: one async implementation for both front doors
// ---------------------------------------------------------------------------

/// Runs `op` (`"api_keys.create"`, …) through the SDK's generated operation
/// table (`keyward::dispatch`), which decodes `args` strictly and applies the
/// facade's retries, timeouts and idempotency keys (drawn from the OS, so
/// prefork workers never share one).
async fn dispatch(client: keyward::Client, op: String, args: Value) -> Result<Value, CallError> {
    keyward::dispatch::dispatch(&client, &op, args).await.map_err(|error| match error {
        keyward::DispatchError::Argument(message) => CallError::Argument(message),
        keyward::DispatchError::Api(error) => CallError::Api(error),
    })
}

// ---------------------------------------------------------------------------
// The client class
// ---------------------------------------------------------------------------

struct ClientSlot {
    pid: u32,
    client: keyward::Client,
}

#[derive(Clone)]
struct Config {
    api_key: String,
    base_url: Option<String>,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    max_retries: Option<u32>,
    user_agent: String,
    organization_id: Option<Uuid>,
}

/// A connection to one keyward server with one API key (or session token). Thread-safe; safe to
/// keep across `os.fork()` (the child opens its own connections).
#[pyclass(frozen, module = "keyward._native")]
struct NativeClient {
    config: Config,
    slot: AtomicPtr<ClientSlot>,
}

fn secs(value: Option<f64>, name: &str) -> PyResult<Option<Duration>> {
    value
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .map_err(|_| PyValueError::new_err(format!("{name} must be a non-negative number of seconds")))
        })
        .transpose()
}

impl NativeClient {
    fn build(config: &Config) -> Result<keyward::Client, keyward::Error> {
        let mut builder = keyward::Client::builder().api_key(config.api_key.clone());
        if let Some(url) = &config.base_url {
            builder = builder.base_url(url.clone());
        }
        if let Some(t) = config.timeout {
            builder = builder.timeout(t);
        }
        if let Some(t) = config.connect_timeout {
            builder = builder.connect_timeout(t);
        }
        if let Some(n) = config.max_retries {
            builder = builder.max_retries(n);
        }
        if let Some(org) = config.organization_id {
            builder = builder.organization_id(org);
        }
        builder.user_agent(config.user_agent.clone()).build()
    }

    /// This process's facade client (built after a fork; the parent's is leaked).
    fn client(&self) -> Result<keyward::Client, CallError> {
        let pid = std::process::id();
        let current = self.slot.load(Ordering::Acquire);
        // SAFETY: slots are leaked boxes, freed only in Drop (same process,
        // no other reference possible then).
        if let Some(slot) = unsafe { current.as_ref() }
            && slot.pid == pid
        {
            return Ok(slot.client.clone());
        }
        let client = Self::build(&self.config)?;
        let fresh = Box::into_raw(Box::new(ClientSlot { pid, client: client.clone() }));
        if self.slot.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire).is_err() {
            // Lost a race with another thread: use the winner's next time, ours now.
            drop(unsafe { Box::from_raw(fresh) });
        }
        Ok(client)
    }

    fn client_with(&self, options: keyward::RequestOptions) -> Result<keyward::Client, CallError> {
        let client = self.client()?;
        if options == keyward::RequestOptions::default() {
            return Ok(client);
        }
        Ok(client.with_options(options))
    }
}

impl Drop for NativeClient {
    fn drop(&mut self) {
        let current = *self.slot.get_mut();
        if let Some(slot) = unsafe { current.as_ref() } {
            // Only free a client this process built; a forked parent's is leaked.
            if slot.pid == std::process::id() {
                drop(unsafe { Box::from_raw(current) });
            }
        }
    }
}

#[pymethods]
impl NativeClient {
    #[new]
    #[pyo3(signature = (api_key, base_url=None, timeout=None, max_retries=None, connect_timeout=None, user_agent=None, organization_id=None))]
    fn new(
        api_key: String,
        base_url: Option<String>,
        timeout: Option<f64>,
        max_retries: Option<u32>,
        connect_timeout: Option<f64>,
        user_agent: Option<String>,
        organization_id: Option<String>,
    ) -> PyResult<Self> {
        let organization_id = organization_id
            .map(|raw| {
                Uuid::parse_str(&raw)
                    .map_err(|_| PyValueError::new_err(format!("organization_id is not a valid UUID: {raw:?}")))
            })
            .transpose()?;
        let config = Config {
            organization_id,
            api_key,
            base_url,
            timeout: secs(timeout, "timeout")?,
            connect_timeout: secs(connect_timeout, "connect_timeout")?,
            max_retries,
            user_agent: user_agent.unwrap_or_else(|| format!("keyward-python/{}", env!("CARGO_PKG_VERSION"))),
        };
        // Validate the configuration now (bad URL, empty key) rather than on
        // the first call.
        let client = Python::attach(|py| Self::build(&config).map_err(|e| to_pyerr(py, CallError::Api(e))))?;
        let slot = Box::into_raw(Box::new(ClientSlot { pid: std::process::id(), client }));
        Ok(NativeClient { config, slot: AtomicPtr::new(slot) })
    }

    /// Run `op` to completion on this thread, the GIL released meanwhile.
    // Each parameter is one of Python's keyword arguments of `call`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (op, args, timeout=None, max_retries=None, idempotency_key=None, extra_headers=None))]
    fn call(
        &self,
        py: Python<'_>,
        op: String,
        args: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        max_retries: Option<u32>,
        idempotency_key: Option<String>,
        extra_headers: Option<Vec<(String, String)>>,
    ) -> PyResult<Py<PyAny>> {
        let args = py_to_json(args)?;
        let options = keyward::RequestOptions {
            timeout: secs(timeout, "timeout")?,
            max_retries,
            idempotency_key,
            extra_headers: extra_headers.unwrap_or_default(),
        };
        let result = py.detach(|| -> Result<Value, CallError> {
            let client = self.client_with(options)?;
            runtime().block_on(dispatch(client, op, args))
        });
        match result {
            Ok(value) => json_to_py(py, &value),
            Err(e) => Err(to_pyerr(py, e)),
        }
    }

    /// An awaitable running `op` on the Rust runtime (call from a coroutine).
    // Each parameter is one of Python's keyword arguments of `call`.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (op, args, timeout=None, max_retries=None, idempotency_key=None, extra_headers=None))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        op: String,
        args: &Bound<'py, PyAny>,
        timeout: Option<f64>,
        max_retries: Option<u32>,
        idempotency_key: Option<String>,
        extra_headers: Option<Vec<(String, String)>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let args = py_to_json(args)?;
        let options = keyward::RequestOptions {
            timeout: secs(timeout, "timeout")?,
            max_retries,
            idempotency_key,
            extra_headers: extra_headers.unwrap_or_default(),
        };
        let client = self.client_with(options).map_err(|e| to_pyerr(py, e))?;
        generic::future_into_py::<PidRuntime, _, _>(py, async move {
            let result = dispatch(client, op, args).await;
            Python::attach(|py| match result {
                Ok(value) => json_to_py(py, &value),
                Err(e) => Err(to_pyerr(py, e)),
            })
        })
    }

    /// The base URL requests go to (for repr and diagnostics).
    #[getter]
    fn base_url(&self) -> Option<String> {
        self.config.base_url.clone()
    }

    /// The organization sent as `X-Organization-Id`, if any.
    #[getter]
    fn organization_id(&self) -> Option<String> {
        self.config.organization_id.map(|id| id.to_string())
    }
}

// ---------------------------------------------------------------------------
// Webhooks: Standard Webhooks signature verification (`keyward::webhooks`).
// Pure computation, no client and no I/O; `keyward/webhooks.py` is the typed
// surface.
// ---------------------------------------------------------------------------

/// `WebhookVerificationError` (kind `webhook`, with the Rust error's stable
/// `code`), or `ValueError` (kind `argument`) for a malformed secret: that is
/// the caller's configuration, not a message to reject.
fn webhook_pyerr(py: Python<'_>, error: &keyward::webhooks::WebhookError) -> PyErr {
    let info = match error {
        keyward::webhooks::WebhookError::InvalidSecret => json!({"kind": "argument", "message": error.to_string()}),
        _ => json!({"kind": "webhook", "code": error.code(), "message": error.to_string()}),
    };
    info_to_pyerr(py, &info)
}

/// One webhook endpoint's secret and timestamp tolerance. The secret is decoded
/// once here and never returned or printed.
#[pyclass(frozen, module = "keyward._native")]
struct NativeWebhook {
    webhook: keyward::webhooks::Webhook,
}

#[pymethods]
impl NativeWebhook {
    #[new]
    #[pyo3(signature = (secret, tolerance_seconds=300))]
    fn new(py: Python<'_>, secret: &str, tolerance_seconds: u64) -> PyResult<Self> {
        let webhook = keyward::webhooks::Webhook::new(secret).map_err(|e| webhook_pyerr(py, &e))?;
        Ok(NativeWebhook { webhook: webhook.with_tolerance(Duration::from_secs(tolerance_seconds)) })
    }

    /// Verify `payload` (the raw body) against `headers` (name/value pairs,
    /// any case) and return the body parsed as JSON. The GIL is released for
    /// the HMAC and the parse.
    fn verify(&self, py: Python<'_>, payload: &[u8], headers: Vec<(String, String)>) -> PyResult<Py<PyAny>> {
        let result = py.detach(|| self.webhook.verify(payload, &headers));
        match result {
            Ok(value) => json_to_py(py, &value),
            Err(e) => Err(webhook_pyerr(py, &e)),
        }
    }

    /// The `webhook-signature` value (`v1,<base64>`) for a message.
    fn sign(&self, msg_id: &str, timestamp: i64, payload: &[u8]) -> String {
        self.webhook.sign(msg_id, timestamp, payload)
    }

    #[getter]
    fn tolerance_seconds(&self) -> u64 {
        self.webhook.tolerance().as_secs()
    }
}

/// The `key_hash` of a key to import: SHA-256 of its full text, 64 lower-case
/// hex characters (`keyward::key_hash`).
#[pyfunction]
fn key_hash(key: &str) -> String {
    keyward::key_hash(key)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeClient>()?;
    m.add_class::<NativeWebhook>()?;
    m.add_function(wrap_pyfunction!(key_hash, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
