//! The web UI served beside the API: public shop pages, the explorer, the supply-chain view,
//! device pages and the monitoring dashboard. Every script and style is served from here (no CDN;
//! a Content-Security-Policy of `'self'` keeps it that way).
//!
//! Pages are small HTML documents; the shop page is rendered server-side from the store
//! ([`shop`]), the other views are filled in by plain JavaScript modules that read the public
//! JSON API. Every page that claims something is verified checks it in the browser with WebCrypto
//! (`/ui/assets/verify.js`): the DSSE signature over the bytes received, the RFC 9162 inclusion
//! proof of the receipt and the checkpoint's note signature by the log key. Design:
//! `docs/design/web-ui.md`.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde_json::{Value, json};
use shinrai_store::Error;

use crate::{ApiError, AppState};

pub mod html;
pub mod shop;

/// Content-Security-Policy of every page: nothing but this server (scripts, styles, fetches).
pub const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The static assets: (name, content type, bytes).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("../../web-assets/style.css"),
    ),
    (
        "verify.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/verify.js"),
    ),
    (
        "shop.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/shop.js"),
    ),
    (
        "explorer.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/explorer.js"),
    ),
    (
        "entry.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/entry.js"),
    ),
    (
        "chain.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/chain.js"),
    ),
    (
        "device.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/device.js"),
    ),
    (
        "monitor.js",
        "text/javascript; charset=utf-8",
        include_str!("../../web-assets/monitor.js"),
    ),
];

/// Routes of the web UI, merged into [`crate::app`].
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/shops/{id}", get(shop_page))
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/explorer", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(explorer_page))
        .route("/ui/entry/{id}", get(entry_page))
        .route("/ui/chain", get(chain_page))
        .route("/ui/device", get(device_page))
        .route("/ui/monitor", get(monitor_page))
        .route("/ui/assets/{name}", get(asset))
        .route("/keys/{keyid}", get(get_org_key))
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

fn not_found(what: &str) -> Response {
    html(
        StatusCode::NOT_FOUND,
        html::page(
            "Not found",
            &format!(
                "<h1>Not found</h1><p id=\"not-found\">{}</p>",
                html::esc(what)
            ),
            &[],
        ),
    )
}

fn server_error() -> Response {
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        html::page(
            "Error",
            "<h1>Something went wrong</h1><p>The page could not be built; try again later.</p>",
            &[],
        ),
    )
}

/// The public address of `path` as the client reached this server (`Host`, and
/// `X-Forwarded-Proto` from a TLS-terminating proxy).
fn public_url(headers: &HeaderMap, path: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}{path}")
}

/// Renders the shop page of `id` as the store holds it now: status code and HTML.
pub fn render_shop_page(
    store: &shinrai_store::Store,
    id: &str,
    url: &str,
) -> shinrai_store::Result<(StatusCode, String)> {
    if !shop::valid_shop_id(id) {
        return Ok((
            StatusCode::NOT_FOUND,
            html::page(
                "Not found",
                "<h1>Not found</h1><p id=\"not-found\">A shop id is 1 to 64 characters of a-z, 0-9 and -.</p>",
                &[],
            ),
        ));
    }
    match shop::shop_view(store, id, time::OffsetDateTime::now_utc())? {
        None => Ok((
            StatusCode::NOT_FOUND,
            html::page(
                "Unknown shop",
                &format!(
                    "<h1>Unknown shop</h1><p id=\"not-found\">The trust store holds nothing about shop <code>{}</code>.</p>",
                    html::esc(id)
                ),
                &[],
            ),
        )),
        Some(view) => {
            let title = view
                .profile
                .as_ref()
                .map(|p| p.name.clone())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| id.to_owned());
            Ok((
                StatusCode::OK,
                html::page(&title, &shop::render_shop(&view, url), &["shop.js"]),
            ))
        }
    }
}

async fn shop_page(
    State(st): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let url = public_url(&headers, &format!("/shops/{id}"));
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || render_shop_page(&store, &id, &url)).await {
        Ok(Ok((status, body))) => html(status, body),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "shop page");
            server_error()
        }
        Err(_) => server_error(),
    }
}

async fn explorer_page() -> Response {
    html(
        StatusCode::OK,
        html::page(
            "Trust store explorer",
            "<h1>Trust store explorer</h1>\
<form id=\"search\" class=\"card search\">\
<label>Subject name <input name=\"subject_name\" placeholder=\"urn:shinrai:shop:…\"></label>\
<label>Subject digest <input name=\"subject_digest\" placeholder=\"sha256:…\"></label>\
<label>Issuer <input name=\"issuer\" placeholder=\"organisation or key id\"></label>\
<label>Predicate type <input name=\"predicate_type\" list=\"ptypes\" placeholder=\"https://…\"></label>\
<datalist id=\"ptypes\"><option value=\"https://slsa.dev/verification_summary/v1\">\
<option value=\"https://shinrai.dev/attestation/shop/v1\">\
<option value=\"https://shinrai.dev/attestation/epcis-event/v1\">\
<option value=\"https://shinrai.dev/attestation/device-result/v1\">\
<option value=\"https://in-toto.io/attestation/link/v0.3\"></datalist>\
<label>Registered since <input name=\"since\" placeholder=\"2026-01-31T00:00:00Z\"></label>\
<label>until <input name=\"until\" placeholder=\"RFC 3339\"></label>\
<button type=\"submit\">Search</button></form>\
<p id=\"summary\" class=\"muted\"></p><div id=\"results\"></div>\
<p><button id=\"more\" hidden>More</button></p>",
            &["explorer.js"],
        ),
    )
}

async fn entry_page(Path(id): Path<String>) -> Response {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok {
        return not_found("An entry is named by its id (64 hex digits) or its log index.");
    }
    html(
        StatusCode::OK,
        html::page(
            &format!("Entry {id}"),
            &format!(
                "<h1>Entry <code id=\"entry-id\">{}</code></h1>\
<section class=\"card\" id=\"entry\" data-entry=\"{}\"><p id=\"verify\" class=\"verify pending\">Checking in your browser…</p>\
<details id=\"verify-steps\" open><summary>Checks</summary><ol id=\"verify-log\"></ol></details>\
<table class=\"kv\" id=\"meta\"></table></section>\
<section class=\"card\"><h2>Statement</h2><pre id=\"statement\"></pre></section>\
<section class=\"card\"><h2>Receipt</h2><pre id=\"receipt\"></pre></section>",
                html::esc(&id),
                html::esc(&id)
            ),
            &["entry.js"],
        ),
    )
}

async fn chain_page() -> Response {
    html(
        StatusCode::OK,
        html::page(
            "Supply chain",
            "<h1>Supply chain</h1>\
<form id=\"chain-form\" class=\"card search\"><label>Product (subject digest or EPC) \
<input name=\"digest\" placeholder=\"sha256:…\" size=\"70\"></label>\
<button type=\"submit\">Show chain</button></form>\
<p id=\"chain-summary\" class=\"muted\"></p>\
<section class=\"card\"><div id=\"chain\"></div>\
<p class=\"legend\"><span class=\"key ok\"></span> verified PASSED \
<span class=\"key fail\"></span> FAILED or not verified <span class=\"key unknown\"></span> no verification summary</p></section>\
<section class=\"card\"><h2>Nodes</h2><div id=\"chain-nodes\"></div></section>",
            &["chain.js"],
        ),
    )
}

async fn device_page() -> Response {
    html(
        StatusCode::OK,
        html::page(
            "Device attestation history",
            "<h1>Device attestation history</h1>\
<form id=\"device-form\" class=\"card search\"><label>Device (subject name) \
<input name=\"subject\" placeholder=\"device:maker/model/serial\" size=\"60\"></label>\
<button type=\"submit\">Show history</button></form>\
<p id=\"device-summary\" class=\"muted\"></p><div id=\"device-history\"></div>",
            &["device.js"],
        ),
    )
}

async fn monitor_page() -> Response {
    html(
        StatusCode::OK,
        html::page(
            "Monitoring",
            "<h1>Monitoring dashboard</h1>\
<p class=\"muted\">Alerts registered in the trust store (predicate type \
<code>https://shinrai.dev/attestation/monitor-alert/v1</code>, an EVE alert as predicate), \
or an EVE JSON file opened here (read in your browser, not uploaded): \
<input type=\"file\" id=\"eve-file\" accept=\".json,.jsonl,.log\"></p>\
<p id=\"monitor-summary\" class=\"muted\">Loading…</p>\
<section class=\"card\"><h2>Anomaly score over time, per link</h2><div id=\"score-chart\"></div></section>\
<section class=\"card\"><h2>Alerts</h2><div id=\"alerts\"></div></section>\
<section class=\"card\"><h2>Configuration changes</h2><div id=\"config-changes\"></div></section>",
            &["monitor.js"],
        ),
    )
}

async fn asset(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, body)) => (
            [
                (header::CONTENT_TYPE, *ct),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            *body,
        )
            .into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such asset").into_response(),
    }
}

/// `GET /keys/{keyid}`: a registered organisation public key in securesystemslib JSON, with its
/// key id and organisation (what a browser needs to check a DSSE signature).
async fn get_org_key(
    State(st): State<AppState>,
    Path(keyid): Path<String>,
) -> Result<Response, ApiError> {
    if keyid.is_empty() || keyid.len() > 128 || !keyid.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "a key id is up to 128 hex digits",
        ));
    }
    let store = st.store.clone();
    let id = keyid.clone();
    let key = tokio::task::spawn_blocking(move || store.backend().org_key(&id))
        .await
        .map_err(|_| ApiError::from(Error::Stopped))??
        .ok_or_else(|| Error::NotFound(format!("key {keyid}")))?;
    let sslib = shinrai_envelope::keys::SslibKey::from_public_key(&key.public_key)
        .map_err(|e| ApiError::from(Error::Inconsistent(format!("key {keyid}: {e}"))))?;
    let mut v: Value = serde_json::from_slice(&sslib.to_json_bytes())
        .map_err(|e| ApiError::from(Error::Inconsistent(format!("key {keyid}: {e}"))))?;
    if let Value::Object(o) = &mut v {
        o.insert("keyid".into(), json!(key.keyid));
        o.insert("org".into(), json!(key.org));
    }
    Ok(axum::Json(v).into_response())
}
