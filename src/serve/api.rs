//! The endpoints and their one error type. Each handler parses its input into
//! typed values at the border (an [`Address`], a bounded list) and answers from
//! the state current when the request started. Errors are JSON
//! `{"error": "..."}`: a 4xx says what is wrong with the request; a 5xx is logged
//! in full and generic to the client.

use alloy_primitives::Address;
use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::App;
use super::state::{AnswerError, LoadError};
use crate::transfer::parse_address;

/// The OpenAPI 3 description of this API, kept in the repository.
pub const OPENAPI: &str = include_str!("../../api/openapi.json");

/// An error answered to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: what is wrong with it.
    #[error("{0}")]
    BadRequest(String),
    /// The body is larger than the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// No or a wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// No such path.
    #[error("no such path: {0}")]
    NotFound(String),
    /// Answering failed on the server's side.
    #[error(transparent)]
    Answer(#[from] AnswerError),
    /// The server stopped the work (it is shutting down).
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A reload failed; the previous data is still served.
    #[error(transparent)]
    Reload(#[from] LoadError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            ApiError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, m.clone()),
            ApiError::UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, m.clone()),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, self.to_string()),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, self.to_string()),
            ApiError::ShuttingDown => (StatusCode::SERVICE_UNAVAILABLE, self.to_string()),
            ApiError::Answer(e) => {
                tracing::error!(error = %e, "answering failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see the server log".to_string(),
                )
            }
            ApiError::Reload(e) => {
                tracing::error!(error = %e, "reload failed; still serving the previous data");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "reload failed; the previous data is still served; see the server log"
                        .to_string(),
                )
            }
        };
        if status.is_client_error() {
            // The message may quote the request (an address): debug level only.
            tracing::debug!(%status, error = %message, "request rejected");
        }
        let mut response = (status, json_bytes(&ErrorBody { error: &message })).into_response();
        if let ApiError::Unauthorized = self {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

/// A JSON response body (compact).
pub(crate) struct JsonBody(Bytes);

impl IntoResponse for JsonBody {
    fn into_response(self) -> Response {
        (
            [(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

fn json_bytes<T: Serialize>(value: &T) -> JsonBody {
    // Serialising our own types to memory cannot fail (string keys, no I/O).
    JsonBody(Bytes::from(
        serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()),
    ))
}

/// A JSON request body whose rejections are [`ApiError`]s: malformed or
/// mistyped JSON is a 400 that quotes the parser, an oversized body a 413.
pub(crate) struct JsonInput<T>(T);

impl<T, S> FromRequest<S> for JsonInput<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonInput(v)),
            Err(r) => Err(match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(r.body_text()),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(r.body_text()),
                _ => ApiError::BadRequest(r.body_text()),
            }),
        }
    }
}

/// Parses an address as the API accepts it: `0x` and 40 hex digits, all one
/// case or with a valid EIP-55 checksum, nothing around it.
fn address(text: &str) -> Result<Address, ApiError> {
    if text.trim() != text {
        return Err(ApiError::BadRequest(format!(
            "{text:?} is not an address: surrounding whitespace"
        )));
    }
    parse_address(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// `GET /v1/addresses/{address}`: the `check --format json` result of one address.
pub(crate) async fn get_address(
    State(app): State<App>,
    path: Result<Path<String>, PathRejection>,
) -> Result<JsonBody, ApiError> {
    let Path(text) = path.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let address = address(&text)?;
    Ok(JsonBody(app.data.current().check_json(&address)?))
}

/// The body of `POST /v1/screen`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScreenRequest {
    addresses: Vec<String>,
}

/// `POST /v1/screen`: one `check` result per address, in the order given.
pub(crate) async fn screen(
    State(app): State<App>,
    body: JsonInput<ScreenRequest>,
) -> Result<JsonBody, ApiError> {
    let JsonInput(request) = body;
    let max = app.settings.max_batch;
    if request.addresses.len() > max {
        return Err(ApiError::BadRequest(format!(
            "too many addresses: {} given, at most {max} per request",
            request.addresses.len()
        )));
    }
    let addresses = request
        .addresses
        .iter()
        .enumerate()
        .map(|(i, t)| address(t).map_err(|e| ApiError::BadRequest(format!("addresses[{i}]: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let data = app.data.current();
    let results = if addresses.len() <= 4 {
        data.check_all_json(&addresses)?
    } else {
        // A long list is seconds of work at worst: off the async workers.
        tokio::task::spawn_blocking(move || data.check_all_json(&addresses))
            .await
            .map_err(|_| ApiError::ShuttingDown)??
    };
    // `{"results": [...]}` around the answers, each already JSON.
    let mut body = Vec::with_capacity(16 + results.iter().map(|r| r.len() + 1).sum::<usize>());
    body.extend_from_slice(br#"{"results":["#);
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(r);
    }
    body.extend_from_slice(b"]}");
    Ok(JsonBody(Bytes::from(body)))
}

/// `GET /v1/health`.
pub(crate) async fn health() -> JsonBody {
    JsonBody(Bytes::from_static(br#"{"status":"ok"}"#))
}

/// `GET /v1/status`.
pub(crate) async fn status(State(app): State<App>) -> JsonBody {
    json_bytes(app.data.current().status())
}

/// `POST /v1/reload`: loads the store afresh and swaps it in; answers the new status.
pub(crate) async fn reload(State(app): State<App>) -> Result<JsonBody, ApiError> {
    let loaded = app.data.reload().await?;
    Ok(json_bytes(loaded.status()))
}

/// `GET /openapi.json`.
pub(crate) async fn openapi() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
}

/// Any other path.
pub(crate) async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(uri.path().to_string())
}

/// Checks the bearer token, when the server has one (`--token-file`).
pub(crate) async fn require_token(
    State(app): State<App>,
    request: Request,
    next: axum::middleware::Next,
) -> Result<Response, ApiError> {
    if let Some(expected) = &app.settings.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !super::auth::token_matches(expected, given) {
            return Err(ApiError::Unauthorized);
        }
    }
    Ok(next.run(request).await)
}
