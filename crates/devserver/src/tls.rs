//! The optional TLS mode: the same router served over rustls (with the `ring`
//! provider, as the core uses), so REST, the notifications socket and the
//! control API all answer on `https://` / `wss://` on the one listener.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::error::DevServerError;

/// The PEM files of a TLS server identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert_pem: PathBuf,
    /// The leaf's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: PathBuf,
}

/// A client that connects and never finishes its handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

fn tls_error(path: &Path, reason: impl ToString) -> DevServerError {
    DevServerError::Tls {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Reads the certificate chain and key and builds the rustls server setup.
pub(crate) fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>, DevServerError> {
    let cert_path = files.cert_pem.as_path();
    let key_path = files.key_pem.as_path();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| tls_error(cert_path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| tls_error(cert_path, e))?;
    if certs.is_empty() {
        return Err(tls_error(cert_path, "it holds no PEM certificate"));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| tls_error(key_path, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(cert_path, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| tls_error(key_path, e))?;
    // The router is served over HTTP/1.1 only (WebSocket upgrades included).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TCP listener that hands out connections once their TLS handshake is
/// done. Handshakes run concurrently, so a slow or silent client holds up
/// nobody; dropping the listener frees the port and abandons pending ones.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    handshakes: JoinSet<Option<(TlsStream<TcpStream>, SocketAddr)>>,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        Self {
            tcp,
            acceptor: TlsAcceptor::from(config),
            handshakes: JoinSet::new(),
        }
    }
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
) -> Option<(TlsStream<TcpStream>, SocketAddr)> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some((tls, peer)),
        Ok(Err(e)) => {
            tracing::info!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            None
        }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    // Cancel-safe (axum drops this future at shutdown): both awaited
    // futures are, and nothing is awaited after one of them yields.
    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                accepted = self.tcp.accept() => match accepted {
                    Ok((stream, peer)) => {
                        no_delay(&stream);
                        self.handshakes
                            .spawn(handshake(self.acceptor.clone(), stream, peer));
                    }
                    Err(e) => accept_failed(e).await,
                },
                Some(done) = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Ok(Some(connection)) = done {
                        return connection;
                    }
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// As axum does for plain TCP: per-connection errors are skipped, anything
/// else (out of file descriptors, ...) is logged and waited out.
/// Frames go out as they are written, as deployed servers send them
/// (Python's asyncio, under uvicorn and Daphne's peers, sets TCP_NODELAY on
/// every connection). With Nagle on, a client that sends anything (its
/// heartbeat ping) makes Linux delay its ACKs for a while, and the server
/// then holds its small frames back until each ACK: events arrive in
/// bunches every ~15 ms for about two seconds after every ping.
pub(crate) fn no_delay(stream: &tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "cannot turn Nagle off on a connection");
    }
}

async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
