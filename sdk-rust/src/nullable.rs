//! Decoding a field `null` clears (`Option<Option<T>>` in the generated
//! PATCH bodies): serde reads a present `null` as `None`, which would turn a
//! caller's "clear this" into "leave it alone". Here a present field is
//! always `Some`, so `null` is `Some(None)` and is sent as `null`.

use serde::{Deserialize, Deserializer};

#[doc(hidden)]
pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}
