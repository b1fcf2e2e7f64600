//! Field validation shared by every endpoint. Each check names its field in
//! the error so a client can point at it.

use crate::{
    error::{ApiError, ApiResult},
    keyfmt,
};
use chrono::{DateTime, Utc};

pub const MAX_META_BYTES: usize = 4096;
pub const MAX_SCOPES: usize = 100;
pub const MAX_ALLOWED_IPS: usize = 100;

// ---------------------------------------------------------------- the same rules, for the spec
//
// The checks below, stated as JSON Schema so the spec says what the server
// enforces (`cargo xtask test` runs schemathesis to keep the two in step).
// Patterns are written for ECMA-262, Python `re` and the Rust `regex` crate
// alike. `char::is_control` is Unicode Cc: U+0000-U+001F and U+007F-U+009F.
//
// Fields use them as literals (utoipa takes literals only):
// - a name: 1-200 characters, not blank, no control characters
//   `^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$`
// - optional text: no control characters `^[^\x00-\x1F\x7F-\x9F]*$`
// - an environment name `^[a-z0-9]{1,16}$`, a key prefix `^[a-z0-9]{2,8}$`

/// A scope: 1-100 characters of `a-z 0-9 _ : . * -` (`*` and `prefix:*` are wildcards).
#[derive(utoipa::ToSchema)]
#[schema(pattern = r"^[a-z0-9_:.*-]{1,100}$", min_length = 1, max_length = 100, example = "keys:read")]
pub struct Scope(pub String);

/// An IPv4 or IPv6 address, or a CIDR block of either.
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = r"^(((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(/(3[0-2]|[12]?[0-9]))?|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:))(/(12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$",
    max_length = 43,
    example = "10.0.0.0/8"
)]
pub struct IpRule(pub String);

/// An IPv4 or IPv6 address.
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = r"^(((25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])|(([0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,7}:|([0-9a-fA-F]{1,4}:){1,6}:[0-9a-fA-F]{1,4}|([0-9a-fA-F]{1,4}:){1,5}(:[0-9a-fA-F]{1,4}){1,2}|([0-9a-fA-F]{1,4}:){1,4}(:[0-9a-fA-F]{1,4}){1,3}|([0-9a-fA-F]{1,4}:){1,3}(:[0-9a-fA-F]{1,4}){1,4}|([0-9a-fA-F]{1,4}:){1,2}(:[0-9a-fA-F]{1,4}){1,5}|[0-9a-fA-F]{1,4}:(:[0-9a-fA-F]{1,4}){1,6}|:((:[0-9a-fA-F]{1,4}){1,7}|:)))$",
    max_length = 39,
    example = "10.1.2.3"
)]
pub struct IpAddress(pub String);

// ---------------------------------------------------------------- free-form objects, for the spec
//
// utoipa states a `serde_json` object as a bare `{"type": "object"}`, which
// generators read as "an object without properties" (openapi-typescript then
// refuses `meta: {customer_id: "cus_123"}` under `tsc --strict`). These say
// `additionalProperties: true`, and carry a title so that generators name the
// type after it (`CreateApiKeyRequestMeta`, not `CreateApiKeyRequestMetaType0`).
// Fields use them as `#[schema(schema_with = …)]`, which replaces the field's
// doc comment: the description is here.

fn free_form_object(title: &str, description: &str, nullable: bool) -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, SchemaType, Type};
    let schema_type =
        if nullable { SchemaType::from_iter([Type::Object, Type::Null]) } else { SchemaType::new(Type::Object) };
    ObjectBuilder::new()
        .schema_type(schema_type)
        .title(Some(title))
        .description(Some(description))
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .build()
}

/// A key's `meta` in a request: absent or `null` gives none (on update: leaves it as it is).
pub fn meta_input_schema() -> utoipa::openapi::schema::Object {
    let description = format!("Free-form JSON object that serializes to at most {MAX_META_BYTES} bytes.");
    // Not nullable: `null` is read as "not given", so in a PATCH it does not
    // clear `meta` (send `{}` for that); only fields `null` clears are nullable.
    free_form_object("Meta", &description, false)
}

/// A key's `meta` as a key shows it (`{}` when none was given).
pub fn meta_schema() -> utoipa::openapi::schema::Object {
    free_form_object(
        "Meta",
        "The free-form JSON object given when the key was created or updated (`{}` if none).",
        false,
    )
}

/// The presented key's `meta` in a verify answer.
pub fn verified_meta_schema() -> utoipa::openapi::schema::Object {
    free_form_object("Meta", "The key's free-form `meta` object; `null` when no key was found.", true)
}

/// An audit event's `changes`.
pub fn audit_changes_schema() -> utoipa::openapi::schema::Object {
    free_form_object("Changes", "A before/after summary of the change.", false)
}

/// A webhook delivery's `payload`.
pub fn webhook_payload_schema() -> utoipa::openapi::schema::Object {
    free_form_object("Payload", "The signed body: `{type, timestamp, data}`.", false)
}

pub fn name(field: &str, value: &str) -> Result<String, ApiError> {
    let len = value.chars().count();
    if value.trim().is_empty() || len > 200 {
        return Err(ApiError::invalid_field(field, "must be 1-200 characters and not blank"));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, "must not contain control characters"));
    }
    Ok(value.to_string())
}

/// A user id (a session JWT's `sub`): 1-255 characters, not blank, no control characters.
pub fn user_id(field: &str, value: &str) -> Result<String, ApiError> {
    let len = value.chars().count();
    if value.trim().is_empty() || len > 255 || value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(field, "must be 1-255 printable characters"));
    }
    Ok(value.to_string())
}

pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(ApiError::invalid_field(field, format!("must be at most {max} printable characters")))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

pub fn scopes(field: &str, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.len() > MAX_SCOPES {
        return Err(ApiError::invalid_field(field, format!("at most {MAX_SCOPES} scopes")));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, scope) in values.iter().enumerate() {
        let ok = (1..=100).contains(&scope.len())
            && scope.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:.*-".contains(&b));
        if !ok {
            return Err(ApiError::invalid_field(
                &format!("{field}[{i}]"),
                format!("`{scope}` is not a valid scope (1-100 characters of a-z 0-9 _ : . * -)"),
            ));
        }
        if !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    Ok(out)
}

pub use crate::domain::network::parse_ip_rule;

pub fn allowed_ips(field: &str, values: &[String]) -> Result<Vec<String>, ApiError> {
    if values.len() > MAX_ALLOWED_IPS {
        return Err(ApiError::invalid_field(field, format!("at most {MAX_ALLOWED_IPS} entries")));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            parse_ip_rule(rule.trim()).map(|_| rule.trim().to_string()).ok_or_else(|| {
                ApiError::invalid_field(
                    &format!("{field}[{i}]"),
                    format!("`{rule}` is not an IP address or CIDR block"),
                )
            })
        })
        .collect()
}

pub fn meta(field: &str, value: &serde_json::Map<String, serde_json::Value>) -> Result<String, ApiError> {
    let text = serde_json::to_string(value).map_err(|e| ApiError::invalid_field(field, e))?;
    if text.len() > MAX_META_BYTES {
        return Err(ApiError::invalid_field(field, format!("must serialize to at most {MAX_META_BYTES} bytes")));
    }
    Ok(text)
}

/// `value` as milliseconds, if it is after `now` (the use case's clock).
pub fn future_time(field: &str, value: DateTime<Utc>, now: i64) -> Result<i64, ApiError> {
    if value.timestamp_millis() <= now {
        return Err(ApiError::invalid_field(field, "must be in the future"));
    }
    Ok(value.timestamp_millis())
}

pub fn key_prefix(field: &str, value: &str) -> Result<String, ApiError> {
    if !keyfmt::is_valid_prefix(value) {
        return Err(ApiError::invalid_field(field, "must be 2-8 lowercase letters or digits"));
    }
    Ok(value.to_string())
}

pub fn environment_name(field: &str, value: &str) -> Result<String, ApiError> {
    if !keyfmt::is_valid_environment(value) {
        return Err(ApiError::invalid_field(field, "must be 1-16 lowercase letters or digits"));
    }
    Ok(value.to_string())
}

pub fn in_range(field: &str, value: u64, min: u64, max: u64) -> Result<i64, ApiError> {
    if value < min || value > max {
        return Err(ApiError::invalid_field(field, format!("must be between {min} and {max}")));
    }
    Ok(value as i64)
}

pub fn webhook_url(field: &str, value: &str) -> Result<String, ApiError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() && value.len() <= 2048 => {
            Ok(value.to_string())
        }
        _ => Err(ApiError::invalid_field(field, "must be an absolute http(s) URL")),
    }
}

/// A webhook URL as saved: absolute http(s), and not a private target unless allowed.
pub fn webhook_target(allow_private: bool, field: &str, url: &str) -> ApiResult<String> {
    let url = webhook_url(field, url)?;
    let parsed = url::Url::parse(&url).map_err(|e| ApiError::invalid_field(field, e))?;
    if let Some(why) = crate::webhooks::ssrf::refuse_url(&parsed, allow_private) {
        return Err(ApiError::invalid_field(field, why));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_rules() {
        for ok in ["10.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1", "2001:db8::/32", "::/0", "1.2.3.4/32"] {
            assert!(parse_ip_rule(ok).is_some(), "{ok}");
        }
        for bad in ["", "10.0.0.256", "10.0.0.0/33", "::/129", "example.com", "10.0.0.1/"] {
            assert!(parse_ip_rule(bad).is_none(), "{bad}");
        }
    }

    /// The spec's patterns accept what the checks accept (and nothing they refuse).
    #[test]
    fn spec_patterns_match_the_checks() {
        use utoipa::PartialSchema;
        let pattern = |schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>| {
            let json = serde_json::to_value(schema).unwrap();
            regex::Regex::new(json["pattern"].as_str().unwrap()).unwrap()
        };
        let ip = pattern(IpRule::schema());
        for ok in
            ["10.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "::1", "2001:db8::/32", "::/0", "1.2.3.4/32", "1:2:3:4:5:6:7::"]
        {
            assert!(ip.is_match(ok) && parse_ip_rule(ok).is_some(), "{ok}");
        }
        for bad in ["", "10.0.0.256", "10.0.0.0/33", "::/129", "example.com", "10.0.0.1/", "01.2.3.4"] {
            assert!(!ip.is_match(bad), "{bad}");
        }
        let scope = pattern(Scope::schema());
        assert!(scope.is_match("keys:read") && !scope.is_match("Keys") && !scope.is_match(""));
    }

    #[test]
    fn scope_names() {
        assert!(scopes("scopes", &["keys:read".into(), "a.b-c_d*".into()]).is_ok());
        let err = scopes("scopes", &["ok".into(), "Bad Scope".into()]).unwrap_err();
        assert!(err.to_string().starts_with("scopes[1]"));
    }
}
