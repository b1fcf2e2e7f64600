//! First-run set-up: an organization and an org-wide admin key.

use crate::{
    keyfmt,
    store::{self, AuditRecord, EnvironmentId, EnvironmentRecord, KeyId, KeyRecord, OrgId, OrgRecord, Store, now_ms},
};
use serde_json::json;

pub const DEFAULT_ORG_PREFIX: &str = "kw";
pub const DEFAULT_ENVIRONMENTS: [&str; 2] = ["live", "test"];

/// Inserts an organization with its default `live` and `test` environments.
pub async fn insert_org_with_defaults(conn: &mut store::Conn, name: &str, key_prefix: &str) -> sqlx::Result<OrgRecord> {
    let now = now_ms();
    let org = OrgRecord {
        id: OrgId::new(),
        name: name.to_string(),
        key_prefix: key_prefix.to_string(),
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    store::insert_org(conn, &org).await?;
    for env in DEFAULT_ENVIRONMENTS {
        store::insert_environment(
            conn,
            &EnvironmentRecord { id: EnvironmentId::new(), organization_id: org.id, name: env.into(), created_at: now },
        )
        .await?;
    }
    Ok(org)
}

/// What bootstrap made. `admin_key` is the plaintext: print it once, then drop it.
pub struct Bootstrapped {
    pub organization: OrgRecord,
    pub admin_key_id: KeyId,
    pub admin_key: String,
}

impl std::fmt::Debug for Bootstrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bootstrapped")
            .field("organization", &self.organization.id)
            .field("admin_key_id", &self.admin_key_id)
            .finish_non_exhaustive()
    }
}

/// Creates an organization and an org-wide admin key with scopes `["*"]` (a
/// normal key: it shows in lists and can be rotated or revoked).
pub async fn bootstrap(store: &Store, org_name: &str) -> anyhow::Result<Bootstrapped> {
    let mut tx = store.begin().await?;
    let org = insert_org_with_defaults(&mut tx, org_name, DEFAULT_ORG_PREFIX).await?;
    let env = store::find_environment(&mut tx, &org.id, "live")
        .await?
        .ok_or_else(|| anyhow::anyhow!("live environment missing"))?;
    let minted = keyfmt::generate(&org.key_prefix, &env.name);
    let key = KeyRecord {
        name: "bootstrap admin key".into(),
        scopes: json!(["*"]).to_string(),
        source: "bootstrap".into(),
        ..KeyRecord::fresh(&org.id, &env, &minted, now_ms())
    };
    store::insert_key(&mut tx, &key).await?;
    store::insert_audit(
        &mut tx,
        &AuditRecord::new(org.id, "system", "bootstrap", "organization.bootstrapped", "api_key", key.id.to_string())
            .changes(json!({
                "organization": {"id": org.id, "name": org.name},
                "api_key": {"key_prefix": key.key_prefix, "scopes": ["*"]},
            })),
    )
    .await?;
    tx.commit().await?;
    Ok(Bootstrapped { organization: org, admin_key_id: key.id, admin_key: minted.into_plaintext() })
}
