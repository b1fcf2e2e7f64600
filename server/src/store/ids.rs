//! The typed ids of `domain::ids` as columns: TEXT holding the hyphenated
//! UUID on both backends. Decoding is where a malformed id is caught — as a
//! decode error naming its kind, so a bad row fails its query instead of
//! turning into a nil UUID further up.

use crate::domain::ids::{AuditEventId, EnvironmentId, KeyId, OrgId, ProjectId, WebhookDeliveryId, WebhookEndpointId};
use sqlx::{
    Any, Decode, Encode, Type,
    any::{AnyTypeInfo, AnyValueRef},
    encode::IsNull,
    error::BoxDynError,
};

macro_rules! id_columns {
    ($($name:ident),+) => {$(
        impl Type<Any> for $name {
            fn type_info() -> AnyTypeInfo {
                <str as Type<Any>>::type_info()
            }
            fn compatible(ty: &AnyTypeInfo) -> bool {
                <str as Type<Any>>::compatible(ty)
            }
        }

        impl<'q> Encode<'q, Any> for $name {
            fn encode_by_ref(&self, buf: &mut <Any as sqlx::Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <String as Encode<'q, Any>>::encode(self.to_string(), buf)
            }
        }

        // The in-place SQLite read of the verify path (`store::sqlite_reader`).
        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).map_err(|err| rusqlite::types::FromSqlError::Other(Box::new(err)))
            }
        }

        impl<'r> Decode<'r, Any> for $name {
            fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<'r, Any>>::decode(value)?;
                Ok($name::parse(text)?)
            }
        }
    )+};
}

id_columns!(AuditEventId, OrgId, ProjectId, EnvironmentId, KeyId, WebhookEndpointId, WebhookDeliveryId);
