//! Checking a request against the bounds the spec declares (`minLength`,
//! `maxLength`, `pattern`, `minimum`, `maximum`, `minItems`, `maxItems`)
//! before it is sent, so a caller learns which field is wrong without a round
//! trip, in every SDK (the Python and Node ones call through the same
//! handles). The rules themselves are generated from the spec
//! (`checks.rs`, `cargo xtask codegen`); the server checks them again.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

/// The bounds of one value, as the spec states them.
pub(crate) enum Rule {
    String {
        min_length: Option<usize>,
        max_length: Option<usize>,
        pattern: Option<(&'static str, &'static LazyLock<Regex>)>,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Array {
        min_items: Option<usize>,
        max_items: Option<usize>,
        /// `None` when the items themselves are unbounded.
        items: Option<&'static Rule>,
    },
    Object {
        fields: &'static [(&'static str, &'static Rule)],
    },
}

/// Checks `value` (a request body or a query struct) against `rule`; the
/// error names the field, e.g. `` `scopes[2]` must match ^[a-z0-9_:.*-]{1,100}$ ``.
pub(crate) fn check<T: Serialize>(rule: &Rule, value: &T) -> Result<(), Error> {
    let value = serde_json::to_value(value).map_err(|error| Error::InvalidArgument(error.to_string()))?;
    check_value(rule, &value, "").map_err(Error::InvalidArgument)
}

fn check_value(rule: &Rule, value: &Value, path: &str) -> Result<(), String> {
    let named = |problem: String| format!("`{path}` {problem}");
    match (rule, value) {
        (_, Value::Null) => Ok(()),
        (Rule::String { min_length, max_length, pattern }, Value::String(text)) => {
            let length = text.chars().count();
            if let Some(min) = min_length.filter(|min| length < *min) {
                return Err(named(format!("must be at least {min} characters long")));
            }
            if let Some(max) = max_length.filter(|max| length > *max) {
                return Err(named(format!("must be at most {max} characters long")));
            }
            match pattern {
                Some((source, regex)) if !regex.is_match(text) => Err(named(format!("must match {source}"))),
                _ => Ok(()),
            }
        }
        (Rule::Number { minimum, maximum }, Value::Number(number)) => {
            let number = number.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = minimum.filter(|min| number < *min) {
                return Err(named(format!("must be at least {min}")));
            }
            match maximum.filter(|max| number > *max) {
                Some(max) => Err(named(format!("must be at most {max}"))),
                None => Ok(()),
            }
        }
        (Rule::Array { min_items, max_items, items }, Value::Array(values)) => {
            if let Some(min) = min_items.filter(|min| values.len() < *min) {
                return Err(named(format!("must hold at least {min} items")));
            }
            if let Some(max) = max_items.filter(|max| values.len() > *max) {
                return Err(named(format!("must hold at most {max} items")));
            }
            let Some(items) = items else { return Ok(()) };
            values
                .iter()
                .enumerate()
                .try_for_each(|(index, item)| check_value(items, item, &format!("{path}[{index}]")))
        }
        (Rule::Object { fields }, Value::Object(object)) => {
            fields.iter().try_for_each(|(name, rule)| match object.get(*name) {
                Some(value) => {
                    let path = if path.is_empty() { (*name).to_string() } else { format!("{path}.{name}") };
                    check_value(rule, value, &path)
                }
                None => Ok(()),
            })
        }
        // A value of another type is the type checker's business (serde, the server).
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    static SCOPE_PATTERN: LazyLock<Regex> = LazyLock::new(|| Regex::new("^[a-z]+$").expect("pattern"));
    static SCOPE: Rule =
        Rule::String { min_length: Some(1), max_length: Some(5), pattern: Some(("^[a-z]+$", &SCOPE_PATTERN)) };
    static SCOPES: Rule = Rule::Array { min_items: None, max_items: Some(2), items: Some(&SCOPE) };
    static LIMIT: Rule = Rule::Number { minimum: Some(1.0), maximum: Some(200.0) };
    static FIELDS: [(&str, &Rule); 2] = [("scopes", &SCOPES), ("limit", &LIMIT)];
    static REQUEST: Rule = Rule::Object { fields: &FIELDS };

    #[test]
    fn each_bound_names_the_field() {
        let problem = |value: Value| check(&REQUEST, &value).expect_err("refused").to_string();
        assert!(problem(json!({"scopes": ["ok", "Bad"]})).contains("`scopes[1]` must match ^[a-z]+$"));
        assert!(problem(json!({"scopes": ["toolong"]})).contains("`scopes[0]` must be at most 5 characters"));
        assert!(problem(json!({"scopes": [""]})).contains("`scopes[0]` must be at least 1 characters"));
        assert!(problem(json!({"scopes": ["a", "b", "c"]})).contains("`scopes` must hold at most 2 items"));
        assert!(problem(json!({"limit": 0})).contains("`limit` must be at least 1"));
        assert!(problem(json!({"limit": 201})).contains("`limit` must be at most 200"));
        check(&REQUEST, &json!({"scopes": ["ab"], "limit": 200, "other": "x"})).expect("within bounds");
        check(&REQUEST, &json!({"scopes": null, "limit": null})).expect("null is not checked");
    }
}
