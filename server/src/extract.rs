//! Request extractors whose rejections use the common error body and answer
//! 400 naming the offending field (axum's own answer 422 in text/plain).
//! The body is parsed as JSON whatever its Content-Type: `curl -d '{…}'` sends
//! a form type, and the body, not the header, is what we validate.

use crate::error::ApiError;
use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::BytesRejection},
    http::{StatusCode, request::Parts},
};
use bytes::Bytes;
use serde::de::DeserializeOwned;

/// A JSON body deserialized with the failing path named in the error.
pub struct ApiJson<T>(pub T);

/// A JSON body that may be absent (an empty body means `T::default()`).
pub struct OptionalJson<T>(pub T);

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(value) => Ok(value),
        Err(err) if err.inner().to_string().starts_with("invalid type: floating point") => {
            integral_floats_as_integers(bytes).unwrap_or_else(|| Err(body_error(err)))
        }
        Err(err) => Err(body_error(err)),
    }
}

fn body_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let message = strip_serde_position(&err.into_inner().to_string());
    if path.is_empty() || path == "." {
        ApiError::bad_request(format!("invalid JSON body: {message}"))
    } else {
        ApiError::invalid_field(&path, message)
    }
}

/// JSON has one number type: `1117.0` is the integer 1117 (JSON Schema's
/// `integer` accepts it too), but serde refuses it for an integer field. Off
/// the hot path (only after such a refusal), each integer field that holds
/// an integral float gets it as an integer, one field at a time, so numbers
/// elsewhere (`meta`) are kept as sent. `None`: not that case after all.
fn integral_floats_as_integers<T: DeserializeOwned>(bytes: &[u8]) -> Option<Result<T, ApiError>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    // Bounded: a 64 KiB body holds fewer numbers than this.
    for _ in 0..16_384 {
        let err = match serde_path_to_error::deserialize::<_, T>(&value) {
            Ok(parsed) => return Some(Ok(parsed)),
            Err(err) => err,
        };
        if !err.inner().to_string().starts_with("invalid type: floating point") {
            return Some(Err(body_error(err)));
        }
        let mut at = &mut value;
        for segment in err.path().iter() {
            at = match segment {
                serde_path_to_error::Segment::Seq { index } => at.get_mut(*index)?,
                serde_path_to_error::Segment::Map { key } => at.get_mut(key.as_str())?,
                _ => return None,
            };
        }
        let float = at.as_f64().filter(|f| f.fract() == 0.0)?;
        *at = if float >= 0.0 && float < u64::MAX as f64 {
            serde_json::Value::from(float as u64)
        } else if float < 0.0 && float >= i64::MIN as f64 {
            serde_json::Value::from(float as i64)
        } else {
            return None;
        };
    }
    None
}

/// serde_json appends " at line 1 column 17"; the field path says more.
fn strip_serde_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection: BytesRejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::bad_request(format!("could not read request body: {rejection}"))
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("request body is required (JSON object)"));
        }
        parse_json(&bytes).map(ApiJson)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        // `null` is an absent body too (the spec's `oneOf: [null, …]`).
        parse_json::<Option<T>>(&bytes).map(|body| OptionalJson(body.unwrap_or_default()))
    }
}

/// The body exactly as sent (for signature checks before parsing).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        body_bytes(req, state).await.map(RawBody)
    }
}

/// Query string parameters, 400 naming the parameter on failure.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            if path.is_empty() || path == "." {
                ApiError::bad_request(format!("invalid query string: {message}"))
            } else {
                ApiError::invalid_field(&path, message)
            }
        })
    }
}

/// A path parameter that must be a UUID: anything else is simply not found.
pub struct IdPath(pub uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(params) =
            axum::extract::Path::<std::collections::HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::NotFound("resource"))?;
        params
            .get("id")
            .and_then(|raw| uuid::Uuid::parse_str(raw).ok())
            .map(IdPath)
            .ok_or(ApiError::NotFound("api key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Body {
        n: u32,
        items: Vec<Item>,
        meta: serde_json::Map<String, serde_json::Value>,
    }
    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Item {
        m: i64,
    }

    #[test]
    fn integral_floats_are_integers() {
        let body: Body = parse_json(br#"{"n": 1117.0, "items": [{"m": -2.0}, {"m": 3}], "meta": {"x": 1.0}}"#).unwrap();
        assert_eq!((body.n, body.items[0].m, body.items[1].m), (1117, -2, 3));
        assert_eq!(body.meta["x"], serde_json::json!(1.0), "numbers outside integer fields are kept as sent");
        let err = parse_json::<Body>(br#"{"n": 1.5, "items": [], "meta": {}}"#).unwrap_err();
        assert!(err.to_string().starts_with("n: invalid type: floating point"), "{err}");
    }
}
