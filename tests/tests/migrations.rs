//! The SQLite and Postgres migrations (`server/migrations/{sqlite,postgres}`)
//! describe the same schema: each is applied to a fresh database (opening a
//! `Store` runs them), then both are read back from the catalogs and
//! compared — tables, columns (type, nullability, default), explicitly
//! created indexes (name, table, uniqueness, columns), and the primary keys
//! and unique constraints (by table and columns: their index names are the
//! backend's own).

use keyward_server::Store;
use keyward_tests::{Backend, TestDatabase, backends};
use sqlx::{AnyPool, Row};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq)]
struct Column {
    /// Upper case, as declared (`BIGINT`, `TEXT`).
    ty: String,
    /// Primary-key columns count as NOT NULL on both backends (Postgres makes
    /// them so; SQLite only declares it for INTEGER and WITHOUT ROWID keys).
    not_null: bool,
    default: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Index {
    table: String,
    unique: bool,
    columns: Vec<String>,
}

#[derive(Debug, Default)]
struct Schema {
    /// Table → column name → column.
    tables: BTreeMap<String, BTreeMap<String, Column>>,
    /// Explicitly created indexes, by name.
    indexes: BTreeMap<String, Index>,
    /// `table (kind: columns)` for each primary key and unique constraint.
    constraints: BTreeSet<String>,
}

fn constraint(table: &str, kind: &str, columns: &[String]) -> String {
    format!("{table} ({kind}: {})", columns.join(", "))
}

async fn sqlite_schema(pool: &AnyPool) -> sqlx::Result<Schema> {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(pool)
    .await?;
    for table in tables {
        let mut columns = BTreeMap::new();
        let mut primary_key = Vec::new();
        let rows = sqlx::query(
            "SELECT name, type, \"notnull\" AS not_null, dflt_value, pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&table)
        .fetch_all(pool)
        .await?;
        for row in rows {
            let name: String = row.try_get("name")?;
            let pk: i64 = row.try_get("pk")?;
            if pk > 0 {
                primary_key.push((pk, name.clone()));
            }
            let column = Column {
                ty: row.try_get::<String, _>("type")?.to_uppercase(),
                not_null: row.try_get::<i64, _>("not_null")? != 0 || pk > 0,
                default: row.try_get("dflt_value")?,
            };
            columns.insert(name, column);
        }
        primary_key.sort();
        if !primary_key.is_empty() {
            let names: Vec<String> = primary_key.into_iter().map(|(_, name)| name).collect();
            schema.constraints.insert(constraint(&table, "primary key", &names));
        }
        let indexes = sqlx::query("SELECT name, \"unique\" AS is_unique, origin FROM pragma_index_list($1)")
            .bind(&table)
            .fetch_all(pool)
            .await?;
        for index in indexes {
            let name: String = index.try_get("name")?;
            let origin: String = index.try_get("origin")?;
            let unique = index.try_get::<i64, _>("is_unique")? != 0;
            let index_columns: Vec<String> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&name)
                    .fetch_all(pool)
                    .await?;
            match origin.as_str() {
                // CREATE [UNIQUE] INDEX
                "c" => {
                    schema.indexes.insert(name, Index { table: table.clone(), unique, columns: index_columns });
                }
                // A UNIQUE constraint's automatic index.
                "u" => {
                    schema.constraints.insert(constraint(&table, "unique", &index_columns));
                }
                // The primary key's (read from table_info above).
                _ => {}
            }
        }
        schema.tables.insert(table, columns);
    }
    Ok(schema)
}

async fn postgres_schema(pool: &AnyPool) -> sqlx::Result<Schema> {
    let mut schema = Schema::default();
    let rows = sqlx::query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         is_nullable::text AS is_nullable, column_default::text AS column_default \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
         AND table_name IN (SELECT table_name FROM information_schema.tables \
                            WHERE table_schema = current_schema() AND table_type = 'BASE TABLE') \
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    for row in rows {
        let table: String = row.try_get("table_name")?;
        let column = Column {
            ty: row.try_get::<String, _>("data_type")?.to_uppercase(),
            not_null: row.try_get::<String, _>("is_nullable")? == "NO",
            default: row.try_get::<Option<String>, _>("column_default")?.map(without_cast),
        };
        schema.tables.entry(table).or_default().insert(row.try_get("column_name")?, column);
    }
    let indexes = sqlx::query(
        "SELECT ic.relname::text AS index_name, t.relname::text AS table_name, \
         CASE WHEN i.indisunique THEN 1 ELSE 0 END AS is_unique, \
         CASE WHEN i.indisprimary THEN 'primary key' \
              WHEN EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.contype = 'u') \
              THEN 'unique' ELSE '' END AS constraint_kind, \
         (SELECT string_agg(a.attname::text, ',' ORDER BY k.n) \
            FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS columns \
         FROM pg_index i \
         JOIN pg_class ic ON ic.oid = i.indexrelid \
         JOIN pg_class t ON t.oid = i.indrelid \
         JOIN pg_namespace ns ON ns.oid = t.relnamespace \
         WHERE ns.nspname = current_schema() AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    for index in indexes {
        let name: String = index.try_get("index_name")?;
        let table: String = index.try_get("table_name")?;
        let columns: Vec<String> = index.try_get::<String, _>("columns")?.split(',').map(str::to_string).collect();
        match index.try_get::<String, _>("constraint_kind")?.as_str() {
            "" => {
                let unique = index.try_get::<i32, _>("is_unique")? != 0;
                schema.indexes.insert(name, Index { table, unique, columns });
            }
            kind => {
                schema.constraints.insert(constraint(&table, kind, &columns));
            }
        }
    }
    Ok(schema)
}

/// A Postgres default as declared: `''::text` is `''` in SQLite's catalog.
fn without_cast(default: String) -> String {
    match default.rsplit_once("::") {
        Some((value, ty)) if ty.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '_') => value.to_string(),
        _ => default,
    }
}

/// Every difference, one line each (empty when the two agree).
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let tables: BTreeSet<&String> = sqlite.tables.keys().chain(postgres.tables.keys()).collect();
    for table in tables {
        let (Some(s), Some(p)) = (sqlite.tables.get(table), postgres.tables.get(table)) else {
            let side = if sqlite.tables.contains_key(table) { "SQLite" } else { "Postgres" };
            out.push(format!("table {table}: only on {side}"));
            continue;
        };
        let columns: BTreeSet<&String> = s.keys().chain(p.keys()).collect();
        for column in columns {
            match (s.get(column), p.get(column)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => out.push(format!("column {table}.{column}: SQLite {a:?}, Postgres {b:?}")),
                (Some(_), None) => out.push(format!("column {table}.{column}: only on SQLite")),
                (None, _) => out.push(format!("column {table}.{column}: only on Postgres")),
            }
        }
    }
    let indexes: BTreeSet<&String> = sqlite.indexes.keys().chain(postgres.indexes.keys()).collect();
    for index in indexes {
        match (sqlite.indexes.get(index), postgres.indexes.get(index)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => out.push(format!("index {index}: SQLite {a:?}, Postgres {b:?}")),
            (Some(a), None) => out.push(format!("index {index} {a:?}: only on SQLite")),
            (None, b) => out.push(format!("index {index} {b:?}: only on Postgres")),
        }
    }
    for c in sqlite.constraints.symmetric_difference(&postgres.constraints) {
        let side = if sqlite.constraints.contains(c) { "SQLite" } else { "Postgres" };
        out.push(format!("constraint {c}: only on {side}"));
    }
    out
}

/// Applies `backend`'s migrations to a fresh database and reads the schema
/// back; the database is dropped before any error is returned.
async fn migrated_schema(backend: Backend) -> anyhow::Result<Schema> {
    let db = TestDatabase::create(backend).await;
    let read = async {
        let store = Store::connect(&db.url, 2).await?;
        let schema = match backend {
            Backend::Sqlite => sqlite_schema(store.pool()).await,
            Backend::Postgres => postgres_schema(store.pool()).await,
        };
        store.close().await;
        Ok::<_, anyhow::Error>(schema?)
    };
    let schema = read.await;
    db.drop_database().await;
    schema
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres_migrations_make_the_same_schema() {
    if !backends().contains(&Backend::Postgres) {
        eprintln!("KEYWARD_TEST_POSTGRES_URL is not set: the SQLite and Postgres migrations were not compared");
        return;
    }
    let sqlite = migrated_schema(Backend::Sqlite).await.expect("SQLite schema");
    let postgres = migrated_schema(Backend::Postgres).await.expect("Postgres schema");

    // The introspection itself found the schema (so an empty read cannot pass).
    for schema in [&sqlite, &postgres] {
        assert!(schema.tables.get("api_keys").is_some_and(|c| c.contains_key("key_hash")), "{schema:#?}");
        assert_eq!(
            schema.indexes.get("api_keys_hash"),
            Some(&Index { table: "api_keys".into(), unique: true, columns: vec!["key_hash".into()] }),
        );
        assert!(schema.constraints.contains("environments (unique: organization_id, name)"), "{schema:#?}");
        assert!(schema.constraints.contains("usage_counters (primary key: key_id, hour_start, code)"), "{schema:#?}");
    }

    let differences = differences(&sqlite, &postgres);
    assert!(
        differences.is_empty(),
        "server/migrations/sqlite and server/migrations/postgres make different schemas:\n  {}",
        differences.join("\n  ")
    );
}
