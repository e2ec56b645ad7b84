//! The web UI served beside the API: public shop pages, the explorer, the supply-chain view,
//! device pages and the monitoring dashboard. Every script and style is served from here (no CDN).

use axum::Router;

use crate::AppState;

/// Routes of the web UI, merged into [`crate::app`].
pub fn router() -> Router<AppState> {
    Router::new()
}
