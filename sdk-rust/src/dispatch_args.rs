//! Decoding the JSON arguments of [`crate::dispatch::dispatch`] and encoding
//! its results: the per-language bindings hand every call over as one JSON
//! object, so this is the one place their arguments are checked.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::Error;
use crate::pagination::Page;

/// Why a dispatched call failed.
#[derive(Debug)]
pub enum DispatchError {
    /// The arguments were refused before anything was sent: the message names
    /// the argument (`` `id` is not a valid UUID ``, `` invalid body: unknown field `nme` ``).
    Argument(String),
    /// The call was made and failed.
    Api(Error),
}

impl DispatchError {
    pub(crate) fn unknown_operation(name: &str) -> DispatchError {
        DispatchError::Argument(format!("unknown operation `{name}`"))
    }
}

impl From<Error> for DispatchError {
    fn from(error: Error) -> DispatchError {
        match error {
            // Refused before sending, like every other argument error.
            Error::InvalidArgument(message) => DispatchError::Argument(message),
            error => DispatchError::Api(error),
        }
    }
}

impl std::fmt::Display for DispatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DispatchError::Argument(message) => f.write_str(message),
            DispatchError::Api(error) => error.fmt(f),
        }
    }
}

/// The arguments of one call; each accessor takes what it reads out, so
/// [`Args::finish`] can refuse whatever is left (a misspelled argument).
pub(crate) struct Args(Map<String, Value>);

impl Args {
    pub(crate) fn new(args: Value) -> Result<Args, DispatchError> {
        match args {
            Value::Null => Ok(Args(Map::new())),
            Value::Object(map) => Ok(Args(map)),
            _ => Err(DispatchError::Argument("the arguments must be an object".into())),
        }
    }

    /// A required path parameter.
    pub(crate) fn path<T: DeserializeOwned>(&mut self, name: &str) -> Result<T, DispatchError> {
        let value = self.0.remove(name).filter(|value| !value.is_null());
        let Some(value) = value else {
            return Err(DispatchError::Argument(format!("`{name}` is required")));
        };
        let shown = value.to_string();
        crate::enums::from_caller_value(value).map_err(|error| {
            let reason = error.to_string();
            if reason.contains("UUID") {
                DispatchError::Argument(format!("`{name}` is not a valid UUID: {shown}"))
            } else {
                DispatchError::Argument(format!("invalid `{name}`: {reason}"))
            }
        })
    }

    /// The request body (`body`); an optional one may be absent or null.
    pub(crate) fn body<T: DeserializeOwned>(&mut self, required: bool) -> Result<T, DispatchError> {
        let value = match self.0.remove("body") {
            None | Some(Value::Null) if required => Value::Object(Map::new()),
            None => Value::Null,
            Some(value) => value,
        };
        crate::enums::from_caller_value(value)
            .map_err(|error| DispatchError::Argument(format!("invalid body: {error}")))
    }

    /// The query parameters: whatever is left, by name.
    pub(crate) fn query<T: DeserializeOwned>(self) -> Result<T, DispatchError> {
        let present: Map<String, Value> = self.0.into_iter().filter(|(_, value)| !value.is_null()).collect();
        crate::enums::from_caller_value(Value::Object(present))
            .map_err(|error| DispatchError::Argument(format!("invalid argument: {error}")))
    }

    /// Refuses arguments no accessor took.
    pub(crate) fn finish(self) -> Result<(), DispatchError> {
        match self.0.into_iter().find(|(_, value)| !value.is_null()) {
            None => Ok(()),
            Some((name, _)) => Err(DispatchError::Argument(format!("unknown argument `{name}`"))),
        }
    }
}

pub(crate) fn to_value<T: Serialize>(value: T) -> Result<Value, DispatchError> {
    serde_json::to_value(value).map_err(|error| DispatchError::Api(Error::Decode(error.to_string())))
}

pub(crate) fn page_value<T: Serialize>(page: Page<T>) -> Result<Value, DispatchError> {
    Ok(json!({"items": to_value(page.items)?, "next_cursor": page.next_cursor}))
}
