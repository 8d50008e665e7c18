//! `--api-key`: requests must carry `Authorization: Bearer TOKEN`. The comparison runs in
//! constant time over SHA-256 digests, so neither the token's bytes nor its length can be
//! learned from how long a refusal takes.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The digest of the server's key.
#[derive(Clone)]
pub struct ApiKey([u8; 32]);

impl ApiKey {
    /// Keeps only the digest of `key`.
    pub fn new(key: &str) -> ApiKey {
        ApiKey(Sha256::digest(key.as_bytes()).into())
    }

    /// True when `presented` is the key.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        digest.ct_eq(&self.0).into()
    }
}

/// Middleware: passes the request on only with the right bearer token.
pub async fn require_key(State(key): State<ApiKey>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    match presented {
        Some(token) if key.matches(token) => next.run(request).await,
        _ => ApiError::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_key_matches() {
        let key = ApiKey::new("s3cret");
        assert!(key.matches(b"s3cret"));
        for other in [&b""[..], b"s3cre", b"s3cret ", b"S3cret", b"s3cretx"] {
            assert!(!key.matches(other), "{other:?}");
        }
    }
}
