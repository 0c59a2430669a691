//! TLS test support: a throwaway certificate authority and a server
//! certificate it signed for `localhost` and 127.0.0.1 (PEM files in a
//! temporary dir), a harness on https, and sign-in with a CA file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde_json::json;
use smarthunt_core::account::{self, AccountError, LoginRequest};
use smarthunt_core::connection::{ConnectionState, ServerVariant};
use smarthunt_core::engine::{Engine, Ports};
use smarthunt_core::ports::{Notifier, Popup};
use smarthunt_core::protocol::Profile;
use smarthunt_core::secret::{SecretStore, Sensitive};
use smarthunt_core::transport::TransportOptions;
use smarthunt_devserver::{DevServerConfig, TlsFiles};
use tokio::sync::watch;

use super::{fast_tuning, Harness, WAIT};

pub struct TestPki {
    /// Holds the files; removed on drop.
    pub dir: tempfile::TempDir,
    /// The CA certificate: what a client must be told to trust.
    pub ca_pem: PathBuf,
    /// The server's identity, for [`smarthunt_devserver::DevServerConfig::tls`].
    pub server: TlsFiles,
}

impl TestPki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");

        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.distinguished_name
            .push(DnType::CommonName, "SmartHunt test CA");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca, ca_key);

        let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("server params");
        leaf.distinguished_name
            .push(DnType::CommonName, "localhost");
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let leaf_key = KeyPair::generate().expect("server key");
        let leaf_cert = leaf
            .signed_by(&leaf_key, &issuer)
            .expect("server certificate");

        let ca_pem = dir.path().join("ca.pem");
        let cert_pem = dir.path().join("server.pem");
        let key_pem = dir.path().join("server.key");
        std::fs::write(&ca_pem, ca_cert.pem()).expect("write CA");
        std::fs::write(&cert_pem, leaf_cert.pem()).expect("write server certificate");
        std::fs::write(&key_pem, leaf_key.serialize_pem()).expect("write server key");
        Self {
            dir,
            ca_pem,
            server: TlsFiles { cert_pem, key_pem },
        }
    }
}

/// A harness whose dev server speaks https/wss with `pki`'s server certificate.
pub async fn tls_harness(pki: &TestPki) -> Harness {
    Harness::with_config(DevServerConfig {
        tls: Some(pki.server.clone()),
        ..DevServerConfig::default()
    })
    .await
}

/// `account::login` against the harness's server with this CA file (and
/// https only), bounded so a hang fails the test.
pub async fn login_with_ca(
    h: &Harness,
    user: (&str, &str),
    ca_file: Option<&Path>,
) -> Result<Option<Profile>, AccountError> {
    let request = LoginRequest {
        server: h.base_url.clone(),
        username: user.0.into(),
        password: Sensitive::new(user.1),
        stay_signed_in: false,
        transport: TransportOptions {
            ca_file: ca_file.map(Path::to_owned),
            allow_insecure_http: false,
        },
    };
    tokio::time::timeout(
        WAIT,
        account::login(
            h.dir.path(),
            request,
            h.secrets.clone() as Arc<dyn SecretStore>,
        ),
    )
    .await
    .expect("sign-in answers in time")
}

/// A notifier that records popups and wakes whoever waits for one.
pub struct PopupWatch(watch::Sender<Vec<Popup>>);

impl Notifier for PopupWatch {
    fn show(&self, popup: Popup) {
        self.0.send_modify(|popups| popups.push(popup));
    }
}

/// Starts the harness's engine with a [`PopupWatch`] as its notifier.
pub fn start_engine_watching_popups(h: &mut Harness) -> (Engine, Arc<PopupWatch>) {
    let popups = Arc::new(PopupWatch(watch::Sender::new(Vec::new())));
    let ports = Ports {
        notifier: popups.clone(),
        secrets: h.secrets.clone(),
    };
    let (engine, task) =
        Engine::start(h.dir.path().to_owned(), fast_tuning(), ports).expect("engine starts");
    h.engine = Some((engine.clone(), task));
    (engine, popups)
}

/// Pushes a notification through the server in process (the harness's HTTP
/// client trusts no test CA and may be proxied) and waits for its popup.
pub async fn push_and_wait_popup(h: &Harness, popups: &PopupWatch, user: &str, title: &str) {
    h.server
        .as_ref()
        .expect("server running")
        .notify(
            user,
            title,
            &format!("{title} body"),
            "maintenance",
            json!({}),
        )
        .await
        .expect("notify");
    let mut rx = popups.0.subscribe();
    let shown = tokio::time::timeout(WAIT, rx.wait_for(|p| p.iter().any(|p| p.title == title)))
        .await
        .map(|r| r.is_ok());
    assert!(
        matches!(shown, Ok(true)),
        "no popup for {title:?}; popups: {:#?}",
        popups.0.borrow()
    );
}

/// Waits until the engine is connected and has had the documented server's
/// greeting, i.e. frames arrive over the socket.
pub async fn wait_documented_socket(h: &Harness) {
    h.wait_status("connected to the documented server", |s| {
        s.connection
            == ConnectionState::Connected {
                variant: ServerVariant::Documented,
            }
    })
    .await;
}
