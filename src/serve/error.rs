//! The server's two kinds of error: [`ServeError`], why the server could not start or run (a
//! library error, part of [`crate::Error`]); and [`ApiError`], what one HTTP request gets back,
//! as OpenAI-style JSON naming the field that was wrong.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the server could not start or keep running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A parameter of [`super::ServeParams`] is out of range.
    #[error("invalid server parameter: {0}")]
    BadParam(String),
    /// The listening socket or the async runtime failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// A slot's worker thread panicked (a bug); its error could not be reported per request.
    #[error("slot {0}'s worker thread panicked")]
    WorkerPanicked(usize),
}

/// The `type` field of an OpenAI error object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorType {
    /// The request was wrong (4xx).
    InvalidRequest,
    /// The API key was missing or wrong (401).
    Authentication,
    /// The server could not serve it now or failed (5xx).
    Server,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Server => "server_error",
        }
    }
}

/// An HTTP error response: status, OpenAI error object, and for 503 a `Retry-After`.
#[derive(Clone, Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error object's `type`.
    pub kind: ErrorType,
    /// What was wrong, for a person.
    pub message: String,
    /// The request field at fault (`messages[1].role`), when there is one.
    pub param: Option<String>,
    /// A machine-readable code (`context_length_exceeded`, `model_not_found`, ...).
    pub code: Option<&'static str>,
    /// Seconds a client should wait before retrying (503).
    pub retry_after: Option<u32>,
}

impl ApiError {
    /// 400: `param` was wrong.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            kind: ErrorType::InvalidRequest,
            message: message.into(),
            param: Some(param.into()),
            code: None,
            retry_after: None,
        }
    }

    /// 400 about the request as a whole (no one field at fault).
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            param: None,
            ..ApiError::invalid("", message)
        }
    }

    /// The same error with a machine-readable code.
    pub fn with_code(mut self, code: &'static str) -> ApiError {
        self.code = Some(code);
        self
    }

    /// The same error with another status.
    pub fn with_status(mut self, status: StatusCode) -> ApiError {
        self.status = status;
        self
    }

    /// 503: every slot busy and the queue full, or the server stopping.
    pub fn unavailable(message: impl Into<String>, retry_after: u32) -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            kind: ErrorType::Server,
            message: message.into(),
            param: None,
            code: Some("server_busy"),
            retry_after: Some(retry_after),
        }
    }

    /// 500: something failed inside the server.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: ErrorType::Server,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }

    /// 401: no or a wrong bearer token.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            kind: ErrorType::Authentication,
            message:
                "missing or incorrect API key: send the header \"Authorization: Bearer TOKEN\" \
                      with the server's --api-key"
                    .into(),
            param: None,
            code: Some("invalid_api_key"),
            retry_after: None,
        }
    }

    /// The error object, as OpenAI's API sends it (`{"error": {...}}`).
    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "message": self.message,
                "type": self.kind.as_str(),
                "param": self.param,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}
