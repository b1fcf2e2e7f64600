use anyhow::Context;
use clap::Parser;
use keyward_server::{
    AppState, Config, Store,
    bootstrap::bootstrap,
    config::{Cli, Command},
    store::redact_url,
};
use std::io::{IsTerminal, Write};
use tracing_subscriber::EnvFilter;

fn init_tracing(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr: stdout carries only the bootstrap key line (or the spec).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Prints the key as the one and only stdout line, before anything listens.
fn print_key_once(key: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{key}")?;
    out.flush()?;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
        println!("{}", keyward_server::openapi().to_pretty_json()?);
        return Ok(());
    }
    let config = Config::resolve(&cli.settings)?;
    init_tracing(&config);
    let store = Store::connect(&config.database_url, config.db_max_connections)
        .await
        .with_context(|| format!("opening database {}", redact_url(&config.database_url)))?;

    match cli.command {
        Some(Command::Bootstrap { org_name }) => {
            let made = bootstrap(&store, &org_name).await?;
            tracing::info!(organization_id = %made.organization.id, key_id = %made.admin_key_id, "bootstrap: created organization and admin key (printed on stdout, shown once)");
            print_key_once(&made.admin_key)?;
            store.close().await;
            Ok(())
        }
        Some(Command::BenchSeed { keys, keys_file }) => {
            let admin_key = keyward_server::bench_seed::seed(&store, keys, &keys_file).await?;
            print_key_once(&admin_key)?;
            store.close().await;
            Ok(())
        }
        Some(Command::Openapi) => unreachable!("handled above"),
        Some(Command::Serve) | None => {
            // A bad secrets key or proxy stops here; `serve` checks and migrates stored secrets first.
            let state = AppState::try_new(store.clone(), config)?;
            let config = &state.config;
            if config.bootstrap_on_empty && store.count_organizations().await? == 0 {
                let made = bootstrap(&store, "Default organization").await?;
                tracing::info!(organization_id = %made.organization.id, key_id = %made.admin_key_id, "first start on an empty database: created an organization and an admin key (printed on stdout, shown once)");
                print_key_once(&made.admin_key)?;
            }
            let listener = tokio::net::TcpListener::bind(config.listen)
                .await
                .with_context(|| format!("binding {}", config.listen))?;
            tracing::info!(listen = %listener.local_addr()?, database = %redact_url(&config.database_url), "keyward listening");
            keyward_server::serve(listener, state, keyward_server::shutdown_signal()).await?;
            store.close().await;
            tracing::info!("stopped");
            Ok(())
        }
    }
}
