//! `GET /info`, `/health`, `/metrics`, the OpenAPI document and its viewer.

use crate::api::Info;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;

/// `GET /info`
#[utoipa::path(get, path = "/info", responses((status = 200, description = "Served model and limits", body = Info)))]
pub async fn info(State(state): State<AppState>) -> Json<Info> {
    let mut info = (*state.info).clone();
    info.lora_adapters = state.validation.adapters().names();
    Json(info)
}

/// `GET /health`: 200 once the model is loaded (the port is bound only then).
#[utoipa::path(get, path = "/health", responses((status = 200, description = "Healthy")))]
pub async fn health() -> Response {
    ().into_response()
}

/// `GET /metrics`: Prometheus text.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus metrics")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render()).into_response()
}

/// `GET /api-doc/openapi.json`
pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

/// `GET /docs`: a minimal page linking the OpenAPI document.
pub async fn docs() -> Html<&'static str> {
    Html("<!doctype html><title>text2sql API</title><h1>text2sql API</h1><p>OpenAPI document: <a href=\"/api-doc/openapi.json\">/api-doc/openapi.json</a></p>")
}
