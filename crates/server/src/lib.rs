//! # shinrai-server: the Shinrai HTTP API
//!
//! [`app`] builds the axum [`Router`] over a [`Store`]: SCITT SCRAPI-style registration
//! (`POST /entries`), entries and receipts, the C2SP tlog-tiles read API under `/log/`, search,
//! trace, `/openapi.json` and `/healthz`. Writers authenticate with per-organisation bearer
//! tokens; reads are open. Every error goes through [`ApiError`], the one place that maps errors
//! to HTTP: 4xx with a JSON reason, a generic 5xx body (details only in the log).

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use serde_json::{Value, json};
use shinrai_store::storage::{Direction, SearchQuery, StoredEntry};
use shinrai_store::{EntryState, Error, Registered, Store};

mod openapi;
pub mod web;
pub use openapi::openapi;

/// Request bodies above this are refused with 413 before parsing (the entry limit plus room).
pub const BODY_LIMIT: usize = shinrai_store::config::MAX_ENTRY_BYTES + 1024;

/// Shared state of the handlers.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The trust store.
    pub store: Store,
    /// How long `POST /entries` waits for integration before answering 202.
    pub wait: Duration,
}

impl AppState {
    /// State with the default wait (5 s).
    pub fn new(store: Store) -> Self {
        AppState {
            store,
            wait: Duration::from_secs(5),
        }
    }
}

/// An error on its way to becoming an HTTP response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    reason: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, reason: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            reason: reason.into(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let (status, code) = match &e {
            Error::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed"),
            Error::InvalidRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Error::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            Error::UnknownSigner(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_signer"),
            Error::BadSignature(_) => (StatusCode::UNPROCESSABLE_ENTITY, "bad_signature"),
            Error::Policy(_) => (StatusCode::UNPROCESSABLE_ENTITY, "policy"),
            Error::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Error::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Error::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Error::Busy => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            _ => {
                tracing::error!(error = %e, "internal error");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                );
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            axum::Json(json!({"error": self.code, "reason": self.reason})),
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

type ApiResult<T> = std::result::Result<T, ApiError>;

/// The router over `state` (tests drive it with `oneshot`; [`serve`] runs it on a listener).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/entries", post(post_entry))
        .route("/entries/{id}", get(get_entry))
        .route("/entries/{id}/receipt", get(get_receipt))
        .route("/log/checkpoint", get(get_checkpoint))
        .route("/log/key", get(get_key))
        .route("/log/tile/{*path}", get(get_tile))
        .route("/search", get(search))
        .route("/trace/{node}", get(trace))
        .route("/openapi.json", get(|| async { axum::Json(openapi()) }))
        .route("/healthz", get(healthz))
        .merge(web::router())
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Serves `app(state)` on `listener` until `shutdown` completes.
pub async fn serve(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

async fn post_entry(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: std::result::Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let token = bearer(&headers).ok_or(Error::Unauthorized)?;
    let org = st.store.authenticate(token)?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if !matches!(
        mime.as_str(),
        "application/json" | "application/vnd.dsse.envelope.v1+json" | "application/cose"
    ) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!(
                "content type {ct:?} is not accepted; send a DSSE envelope as application/json or a COSE_Sign1 as application/cose"
            ),
        ));
    }
    let body = body.map_err(|r| {
        let status = r.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                "too_large",
                format!(
                    "request body exceeds {} bytes; entries are at most {} bytes (register larger content by digest)",
                    BODY_LIMIT,
                    st.store.config().max_entry_bytes
                ),
            )
        } else {
            ApiError::new(status, "bad_body", r.body_text())
        }
    })?;
    let pending = st.store.register(&body, &org)?;
    let id = pending.id();
    let location = HeaderValue::from_str(&format!("/entries/{id}"))
        .map_err(|_| ApiError::from(Error::Stopped))?;
    match tokio::time::timeout(st.wait, pending.wait()).await {
        Ok(result) => {
            let reg = result?;
            let status = if reg.existing {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let mut r = registered_response(status, &reg);
            r.headers_mut().insert(header::LOCATION, location);
            Ok(r)
        }
        Err(_) => {
            let mut r = (
                StatusCode::ACCEPTED,
                axum::Json(json!({"id": id, "status": "pending"})),
            )
                .into_response();
            r.headers_mut().insert(header::LOCATION, location);
            Ok(r)
        }
    }
}

/// The JSON answer to a registration, serialized into a buffer sized for it up front: axum's
/// `Json` starts at 128 bytes and regrows (copying) about four times for a receipt of 1-2 KB,
/// which was a tenth of a request's handling under load.
fn registered_response(status: StatusCode, reg: &Registered) -> Response {
    let r = &reg.receipt;
    // Two ids, the escaped checkpoint note, one base64 hash per proof step, field names.
    let estimate = 384 + 2 * r.checkpoint.len() + 48 * r.inclusion_proof.len();
    let mut body = Vec::with_capacity(estimate);
    match serde_json::to_writer(&mut body, reg) {
        Ok(()) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::from(Error::Inconsistent(format!(
            "cannot serialise the registration answer: {e}"
        )))
        .into_response(),
    }
}

fn entry_json(e: &StoredEntry) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Value::Object(o) = &mut v {
        o.insert("registered_at".into(), json!(rfc3339(e.registered_at_ms)));
        if !e.bytes.is_empty() {
            o.insert("entry".into(), json!(B64.encode(&e.bytes)));
        }
    }
    v
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn find_entry(store: &Store, id: &str) -> ApiResult<EntryState> {
    if !id.is_empty() && id.len() < 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        let index: u64 = id
            .parse()
            .map_err(|_| Error::InvalidRequest("bad index".into()))?;
        return Ok(EntryState::Integrated(Box::new(store.entry(index)?)));
    }
    Ok(store.entry_by_id(id)?)
}

async fn get_entry(State(st): State<AppState>, Path(id): Path<String>) -> ApiResult<Response> {
    match find_entry(&st.store, &id)? {
        EntryState::Integrated(e) => Ok(axum::Json(entry_json(&e)).into_response()),
        EntryState::Pending => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"id": id, "status": "pending"})),
        )
            .into_response()),
    }
}

/// Query parameters of `GET /entries/{id}/receipt`.
#[derive(Debug, Deserialize)]
pub struct ReceiptParams {
    format: Option<String>,
}

async fn get_receipt(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    q: std::result::Result<Query<ReceiptParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let wants_cose = match q.format.as_deref() {
        Some("cose") => true,
        Some("json") => false,
        Some(other) => {
            return Err(Error::InvalidRequest(format!(
                "format must be json or cose, not {other:?}"
            ))
            .into());
        }
        None => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/cose")),
    };
    match find_entry(&st.store, &id)? {
        EntryState::Integrated(e) if wants_cose => Ok((
            [(header::CONTENT_TYPE, "application/cose")],
            st.store.cose_receipt(e.index)?,
        )
            .into_response()),
        EntryState::Integrated(e) => Ok(axum::Json(st.store.receipt(e.index)?).into_response()),
        EntryState::Pending => Ok((
            StatusCode::ACCEPTED,
            axum::Json(json!({"id": id, "status": "pending"})),
        )
            .into_response()),
    }
}

fn text(body: String, cache: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

async fn get_checkpoint(State(st): State<AppState>) -> Response {
    text(st.store.checkpoint().note.clone(), "no-cache")
}

async fn get_key(State(st): State<AppState>) -> Response {
    text(format!("{}\n", st.store.verifier_key()), "no-cache")
}

async fn get_tile(State(st): State<AppState>, Path(path): Path<String>) -> ApiResult<Response> {
    // The one tlog-tiles path parser of the project: canonical paths only.
    let tp = shinrai_tlog::TilePath::parse(&format!("tile/{path}")).map_err(|_| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "not a tlog-tiles path (tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])",
        )
    })?;
    let width = tp.is_partial().then(|| tp.width());
    let data = match tp.kind() {
        shinrai_tlog::TileKind::Hash { level } => st.store.tile(level, tp.index(), width)?,
        shinrai_tlog::TileKind::Entries => st.store.entry_bundle(tp.index(), width)?,
    };
    let data = data.ok_or_else(|| Error::NotFound(format!("tile {path}")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        data,
    )
        .into_response())
}

/// Query parameters of `GET /search`.
#[derive(Debug, Deserialize)]
pub struct SearchParams {
    subject_digest: Option<String>,
    subject_name: Option<String>,
    issuer: Option<String>,
    predicate_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<u64>,
    limit: Option<u32>,
}

fn parse_time(name: &str, s: &str) -> ApiResult<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            Error::InvalidRequest(format!(
                "{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z"
            ))
        })?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

async fn search(
    State(st): State<AppState>,
    q: std::result::Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(Error::InvalidRequest("limit must be 1..=1000".into()).into());
    }
    if q.after.is_some_and(|a| a > i64::MAX as u64) {
        return Err(Error::InvalidRequest("after is too large".into()).into());
    }
    let query = SearchQuery {
        subject_digest: q.subject_digest,
        subject_name: q.subject_name,
        issuer: q.issuer,
        predicate_type: q.predicate_type,
        since_ms: q
            .since
            .as_deref()
            .map(|s| parse_time("since", s))
            .transpose()?,
        until_ms: q
            .until
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()?,
        after: q.after,
        limit,
    };
    let store = st.store.clone();
    let page = tokio::task::spawn_blocking(move || store.search(query))
        .await
        .map_err(|_| ApiError::from(Error::Stopped))??;
    let entries: Vec<Value> = page.entries.iter().map(entry_json).collect();
    Ok(axum::Json(json!({"entries": entries, "next": page.next})).into_response())
}

/// Query parameters of `GET /trace/{node}`.
#[derive(Debug, Deserialize)]
pub struct TraceParams {
    direction: Option<String>,
    depth: Option<u32>,
}

async fn trace(
    State(st): State<AppState>,
    Path(node): Path<String>,
    q: std::result::Result<Query<TraceParams>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) =
        q.map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()))?;
    let direction = match q.direction.as_deref().unwrap_or("up") {
        "up" => Direction::Up,
        "down" => Direction::Down,
        other => {
            return Err(Error::InvalidRequest(format!(
                "direction must be up or down, not {other:?}"
            ))
            .into());
        }
    };
    let depth = q.depth.unwrap_or(8);
    if !(1..=64).contains(&depth) {
        return Err(Error::InvalidRequest("depth must be 1..=64".into()).into());
    }
    let store = st.store.clone();
    let t = tokio::task::spawn_blocking(move || store.trace(&node, direction, depth))
        .await
        .map_err(|_| ApiError::from(Error::Stopped))??;
    Ok(axum::Json(t).into_response())
}

async fn healthz(State(st): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "tree_size": st.store.checkpoint().size})).into_response()
}
