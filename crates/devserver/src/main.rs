//! `smarthunt-devserver`: runs the dev server until SIGINT/SIGTERM. Prints
//! exactly one line, `listening on http://HOST:PORT` (with `--tls-cert` and
//! `--tls-key`: `listening on https://localhost:PORT`), to stdout once
//! ready; logs go to stderr.

use std::io::{IsTerminal, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use smarthunt_devserver::{DevServer, DevServerConfig, TlsFiles, Variant};

/// A SmartHunt-compatible backend on loopback.
#[derive(Parser, Debug)]
#[command(name = "smarthunt-devserver", version, about)]
struct Cli {
    /// Loopback address to listen on (`127.0.0.1`, `::1` or `localhost`).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port; 0 picks a free one.
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Which server behaviour to imitate.
    #[arg(long, value_enum, default_value_t = Variant::Documented)]
    variant: Variant,
    /// SQLite file for persistent state (default: in memory).
    #[arg(long)]
    db: Option<PathBuf>,
    /// Refuse WebSocket handshakes without the server's own Origin.
    #[arg(long)]
    require_origin: bool,
    /// Emit a realistic event every SECS seconds (fractions allowed).
    #[arg(long, value_name = "SECS")]
    scenario_interval: Option<f64>,
    /// Serve https/wss with this certificate chain (PEM, valid for localhost).
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn loopback_host(host: &str) -> Result<IpAddr, String> {
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| format!("--host must be a loopback IP address, got {host:?}"))?;
    if ip.is_loopback() {
        Ok(ip)
    } else {
        Err(format!("refusing to listen on non-loopback host {ip}"))
    }
}

/// SIGINT or SIGTERM, watched from the moment this is called: a caller
/// that stops the server as soon as it has read the ready line must find
/// the handlers in place (before them, the signal's default action kills
/// the process, which then exits as killed, not cleanly).
#[cfg(unix)]
fn watch_for_termination() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let watch = |kind| {
        signal(kind)
            .map_err(|e| tracing::warn!(error = %e, "cannot watch a signal"))
            .ok()
    };
    let (interrupt, term) = (
        watch(SignalKind::interrupt()),
        watch(SignalKind::terminate()),
    );
    async move {
        let wait = |s: Option<tokio::signal::unix::Signal>| async move {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = wait(interrupt) => {}
            _ = wait(term) => {}
        }
    }
}

#[cfg(not(unix))]
fn watch_for_termination() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();

    let ip = match loopback_host(&cli.host) {
        Ok(ip) => ip,
        Err(msg) => {
            eprintln!("smarthunt-devserver: {msg}");
            return ExitCode::from(2);
        }
    };
    let scenario_interval = match cli.scenario_interval {
        None => None,
        Some(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
        Some(_) => {
            eprintln!("smarthunt-devserver: --scenario-interval must be a positive number");
            return ExitCode::from(2);
        }
    };
    let cfg = DevServerConfig {
        addr: SocketAddr::new(ip, cli.port),
        variant: cli.variant,
        db_path: cli.db,
        require_origin: cli.require_origin,
        scenario_interval,
        tls: cli
            .tls_cert
            .zip(cli.tls_key)
            .map(|(cert_pem, key_pem)| TlsFiles { cert_pem, key_pem }),
        control_token: std::env::var(smarthunt_devserver::CONTROL_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty()),
        ..DevServerConfig::default()
    };
    let terminated = watch_for_termination();
    let server = match DevServer::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smarthunt-devserver: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        if writeln!(out, "listening on {}", server.base_url())
            .and_then(|()| {
                writeln!(
                    out,
                    "control API token (header {}): {}",
                    smarthunt_devserver::CONTROL_TOKEN_HEADER,
                    server.control_token()
                )
            })
            .and_then(|()| out.flush())
            .is_err()
        {
            tracing::warn!("cannot write the ready line to stdout");
        }
    }
    terminated.await;
    tracing::info!("shutting down");
    server.shutdown().await;
    ExitCode::SUCCESS
}
