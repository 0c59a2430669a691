//! A server we do not control: a raw HTTP server on loopback that answers
//! what a broken or hostile deployment could (a redirect to another host,
//! an endless or oversized body, tokens with absurd claims, a notification
//! list that never ends), and the core's real sign-in, REST client and
//! engine against it. Each test says what a user
//! would notice: a clear error, nothing sent where it should not go,
//! memory that stays bounded, and recovery when the server behaves again.

mod common;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use common::{fast_tuning, Harness};
use smarthunt_core::api::{Api, ApiError, MAX_PAGE_ITEMS};
use smarthunt_core::ports::PopupKey;
use smarthunt_core::protocol::NotificationKind;
use smarthunt_core::secret::{MemorySecretStore, SecretStore, Sensitive};
use smarthunt_core::session::{Session, SessionError};
use smarthunt_core::sync::{CATCH_UP_MAX_PAGES, FIRST_SYNC_PAGES};
use smarthunt_core::transport::{ServerUrl, Transport, TransportOptions, MAX_BODY_BYTES};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Generous: these machines are shared and noisy.
const WAIT: Duration = Duration::from_secs(60);

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    body: String,
}

/// What the server sends back.
enum Answer {
    /// A whole response, head and body.
    Raw(String),
    /// A head that promises `Transfer-Encoding: chunked`, then chunks of
    /// junk for as long as the client reads.
    Endless,
    /// A head that declares this `Content-Length`, then junk until the
    /// client hangs up.
    Declared(u64),
}

type Handler = dyn Fn(&Request) -> Answer + Send + Sync;

/// An HTTP/1.1 server on 127.0.0.1 that answers every request with what
/// the handler says (and closes the connection), and logs what it saw.
struct Hostile {
    url: String,
    seen: Arc<Mutex<Vec<Request>>>,
    connections: Arc<AtomicUsize>,
    handler: Arc<Mutex<Arc<Handler>>>,
}

impl Hostile {
    async fn start(handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let me = Self {
            url,
            seen: Arc::default(),
            connections: Arc::default(),
            handler: Arc::new(Mutex::new(Arc::new(handler))),
        };
        let (seen, connections, handler) =
            (me.seen.clone(), me.connections.clone(), me.handler.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let handler = handler
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                tokio::spawn(serve(stream, seen.clone(), handler));
            }
        });
        me
    }

    /// A server that signs anyone in (with tokens valid until 2100) and
    /// answers every other request with `api`.
    async fn signing_in(api: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Self {
        Self::start(move |r| {
            if r.path.starts_with("/api/token/") {
                json("200 OK", &token_pair("4102444800"))
            } else {
                api(r)
            }
        })
        .await
    }

    /// From now on, answer with `handler`.
    fn answer_with(&self, handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) {
        *self.handler.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(handler);
    }

    fn seen(&self) -> Vec<Request> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

async fn serve(mut stream: TcpStream, seen: Arc<Mutex<Vec<Request>>>, handler: Arc<Handler>) {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let mut first = head.split_whitespace();
    let request = Request {
        method: first.next().unwrap_or_default().to_owned(),
        path: first.next().unwrap_or_default().to_owned(),
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned(),
    };
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(request.clone());
    let junk = vec![b'x'; 64 * 1024];
    match handler(&request) {
        Answer::Raw(text) => {
            let _ = stream.write_all(text.as_bytes()).await;
        }
        Answer::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = format!("{:x}\r\n", junk.len());
            // Ends when the client hangs up.
            while stream.write_all(chunk.as_bytes()).await.is_ok()
                && stream.write_all(&junk).await.is_ok()
                && stream.write_all(b"\r\n").await.is_ok()
            {}
        }
        Answer::Declared(n) => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            while stream.write_all(&junk).await.is_ok() {}
        }
    }
    let _ = stream.shutdown().await;
}

fn json(status: &str, body: &str) -> Answer {
    Answer::Raw(format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

fn redirect(status: &str, location: &str) -> Answer {
    Answer::Raw(format!(
        "HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    ))
}

/// A JWT-shaped token with these claims (the core never checks the
/// signature; the server does).
fn jwt(claims: &str) -> String {
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.sig",
        b.encode(r#"{"alg":"HS256"}"#),
        b.encode(claims)
    )
}

fn token_pair(exp: &str) -> String {
    let access = jwt(&format!(r#"{{"exp":{exp},"user_id":"2"}}"#));
    format!(
        r#"{{"access":"{access}","refresh":"{}"}}"#,
        jwt(r#"{"exp":4102444800}"#)
    )
}

fn page_of(titles: &[&str]) -> String {
    let results: Vec<String> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"{{"id":{},"title":"{t}","body":"b","notification_type":"general","is_read":false,"created_at":"2026-01-01T00:00:00Z"}}"#,
                i + 1
            )
        })
        .collect();
    format!(
        r#"{{"count":{},"next":null,"previous":null,"results":[{}]}}"#,
        titles.len(),
        results.join(",")
    )
}

async fn sign_in(server: &str) -> Result<Session, SessionError> {
    let transport = Transport::new(&TransportOptions::default()).expect("transport");
    let url = ServerUrl::parse(server, false).expect("server url");
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::default());
    tokio::time::timeout(
        WAIT,
        Session::login(
            &transport,
            &url,
            "tenant",
            &Sensitive::new("the-password-9f2c"),
            false,
            secrets,
        ),
    )
    .await
    .expect("sign-in gives up in time")
}

/// Signed in against `hostile` (which must answer the token request).
async fn api_for(hostile: &Hostile) -> Api {
    let session = sign_in(&hostile.url).await.expect("sign-in");
    let transport = Transport::new(&TransportOptions::default()).expect("transport");
    Api::new(session, transport.http().clone())
}

/// The current process's resident memory now, in bytes.
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: u64 = status
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_sign_in_is_not_followed_and_the_password_goes_nowhere_else() {
    let elsewhere = Hostile::start(|_| json("200 OK", &token_pair("4102444800"))).await;
    let target = format!("{}/steal/", elsewhere.url);
    for status in [
        "308 Permanent Redirect",
        "307 Temporary Redirect",
        "302 Found",
    ] {
        let (location, status) = (format!("{target}?k=v"), status.to_owned());
        let server = Hostile::start(move |_| redirect(&status, &location)).await;
        let err = sign_in(&server.url)
            .await
            .err()
            .expect("a redirect is refused");
        assert!(
            matches!(&err, SessionError::Redirected(to) if to == &target),
            "the error names where it pointed, without its query: {err:?}"
        );
        assert!(err.to_string().contains(&target), "{err}");
        assert_eq!(server.seen().len(), 1, "one request, not resent");
    }
    assert_eq!(
        elsewhere.connections(),
        0,
        "nothing reached the host the redirect named"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_call_that_is_redirected_is_an_error_naming_the_new_location() {
    let elsewhere = Hostile::start(|_| json("200 OK", &page_of(&["planted"]))).await;
    let target = format!("{}/api/interactions/notifications/", elsewhere.url);
    let t = target.clone();
    let server = Hostile::signing_in(move |_| redirect("301 Moved Permanently", &t)).await;
    let api = api_for(&server).await;
    let err = api
        .notifications_page(1, false)
        .await
        .expect_err("not followed");
    assert!(
        matches!(&err, ApiError::Redirected(to) if to == &target),
        "{err:?}"
    );
    let err = api.mark_all_read().await.expect_err("a POST neither");
    assert!(matches!(err, ApiError::Redirected(_)), "{err:?}");
    assert_eq!(elsewhere.connections(), 0, "the token went nowhere else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_and_oversized_bodies_are_refused_with_bounded_memory_and_the_client_recovers() {
    let server = Hostile::signing_in(|_| Answer::Endless).await;
    let api = api_for(&server).await;
    let before = resident_bytes();

    let err = tokio::time::timeout(WAIT, api.notifications_page(1, false))
        .await
        .expect("an endless body is given up on in time")
        .expect_err("an endless body is refused");
    assert!(
        matches!(err, ApiError::TooLarge(n) if n == MAX_BODY_BYTES),
        "{err:?}"
    );
    assert!(err.to_string().contains("larger than"), "{err}");

    // 1.5 GiB declared: refused before it is read.
    server.answer_with(|_| Answer::Declared(3 << 29));
    let err = tokio::time::timeout(WAIT, api.stats())
        .await
        .expect("in time")
        .expect_err("a declared huge body is refused");
    assert!(matches!(err, ApiError::TooLarge(_)), "{err:?}");

    let grown = resident_bytes().saturating_sub(before);
    assert!(
        grown < 64 << 20,
        "memory grew by {} MiB reading refused bodies",
        grown >> 20
    );

    // The server behaves again: so does the client.
    server.answer_with(|_| json("200 OK", &page_of(&["Rent due", "Leak fixed"])));
    let (items, more) = api.notifications_page(1, false).await.expect("recovered");
    let titles: Vec<&str> = items.iter().map(|n| n.title.as_str()).collect();
    assert_eq!((titles, more), (vec!["Rent due", "Leak fixed"], false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_sign_in_answer_is_refused_not_read_to_the_end() {
    let server = Hostile::start(|_| Answer::Endless).await;
    let err = sign_in(&server.url).await.err().expect("refused");
    assert!(
        matches!(&err, SessionError::Protocol(m) if m.contains("too large")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_with_absurd_expiry_or_junk_are_handled_without_a_panic() {
    // An exp at the edge of i64 (and beyond it, as a float): no overflow in
    // the refresh arithmetic; the token is used until the server refuses it.
    for exp in ["-9223372036854775808", "9223372036854775807", "1e308"] {
        let pair = token_pair(exp);
        let server = Hostile::start(move |r| {
            if r.path.starts_with("/api/token/refresh/") {
                json(
                    "200 OK",
                    &format!(r#"{{"access":"{}"}}"#, jwt(r#"{"exp":4102444800}"#)),
                )
            } else if r.path.starts_with("/api/token/") {
                json("200 OK", &pair)
            } else {
                json("200 OK", r#"{"total":3,"unread":1}"#)
            }
        })
        .await;
        let api = api_for(&server).await;
        let stats = api.stats().await.expect("stats with that token");
        assert_eq!((stats.total, stats.unread), (3, 1), "exp {exp}");
    }
    // Tokens that are not text a header can carry are refused clearly.
    let server = Hostile::start(|_| json("200 OK", r#"{"access":"a\r\nb","refresh":"r"}"#)).await;
    let err = sign_in(&server.url).await.err().expect("refused");
    assert!(
        matches!(&err, SessionError::Protocol(m) if m.contains("no usable token")),
        "{err:?}"
    );
    let seen = server.seen();
    assert_eq!(seen[0].method, "POST");
    assert!(
        seen[0].body.contains("the-password-9f2c"),
        "sent to the server itself"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_with_more_items_than_any_server_sends_is_cut_to_the_cap() {
    let titles: Vec<String> = (0..MAX_PAGE_ITEMS + 100).map(|i| format!("n{i}")).collect();
    let page = page_of(&titles.iter().map(String::as_str).collect::<Vec<_>>());
    let server = Hostile::signing_in(move |_| json("200 OK", &page)).await;
    let api = api_for(&server).await;
    let (items, _) = api.notifications_page(1, false).await.expect("a page");
    assert_eq!(items.len(), MAX_PAGE_ITEMS);
    assert_eq!(items[0].title, "n0", "the first ones are kept");
}

/// What the engine asks of a server, answered: sign-in, `list(page)` for
/// the notification list, stats, an empty chat and no detail or profile.
/// The WebSocket is refused (503), so the only full catch-ups are the ones
/// the test asks for with [`Engine::refresh`] (as opening the window does).
///
/// [`Engine::refresh`]: smarthunt_core::engine::Engine::refresh
fn engine_answers(
    list: impl Fn(u32) -> String + Send + Sync + 'static,
) -> impl Fn(&Request) -> Answer + Send + Sync + 'static {
    move |r| {
        let path = r.path.as_str();
        if path.starts_with("/api/token/") {
            json("200 OK", &token_pair("4102444800"))
        } else if let Some(page) = list_page(path) {
            json("200 OK", &list(page))
        } else if path.starts_with("/api/interactions/notifications/stats/") {
            json("200 OK", r#"{"total":7,"unread":7}"#)
        } else if path.starts_with("/api/interactions/messages/") {
            json(
                "200 OK",
                r#"{"count":0,"next":null,"previous":null,"results":[]}"#,
            )
        } else if path.starts_with("/ws/") {
            json("503 Service Unavailable", "{}")
        } else {
            json("404 Not Found", "{}")
        }
    }
}

/// The page number of a notification-list request (either list).
fn list_page(path: &str) -> Option<u32> {
    let query = path.strip_prefix("/api/interactions/notifications/?")?;
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("page="))
        .and_then(|p| p.parse().ok())
}

/// The pages a catch-up asked for among `seen` (the unread list that
/// reconciling reads walks is not the catch-up's).
fn catch_up_pages(seen: &[Request]) -> Vec<u32> {
    seen.iter()
        .filter(|r| !r.path.contains("is_read="))
        .filter_map(|r| list_page(&r.path))
        .collect()
}

/// A notification list that never ends: every page brings `per_page`
/// items from `item(id)` with ids never sent before, and names a next page.
fn endless_list(per_page: usize, item: fn(i64) -> String) -> impl Fn(u32) -> String {
    let next_id = AtomicI64::new(1);
    move |page| {
        let items: Vec<String> = (0..per_page)
            .map(|_| item(next_id.fetch_add(1, Ordering::SeqCst)))
            .collect();
        format!(
            r#"{{"count":100000000,"next":"?page={}","previous":null,"results":[{}]}}"#,
            page + 1,
            items.join(",")
        )
    }
}

fn small_item(id: i64) -> String {
    format!(
        r#"{{"id":{id},"title":"n{id}","body":"b","notification_type":"general","is_read":false,"created_at":"2026-01-01T00:00:00Z"}}"#
    )
}

/// An item as large as the client keeps one: a full title and body and
/// `data` just under its cap.
fn large_item(id: i64) -> String {
    format!(
        r#"{{"id":{id},"title":"{id} {}","body":"{}","notification_type":"general","is_read":false,"created_at":"2026-01-01T00:00:00Z","data":{{"note":"{}"}}}}"#,
        "t".repeat(180),
        "b".repeat(smarthunt_core::protocol::MAX_BODY_CHARS),
        "d".repeat(smarthunt_core::protocol::MAX_DATA_BYTES - 200),
    )
}

/// As many large items as fit a page the client accepts.
fn large_items_per_page() -> usize {
    let envelope = 200;
    ((MAX_BODY_BYTES - envelope) / (large_item(i64::MAX).len() + 1)).min(MAX_PAGE_ITEMS)
}

/// The engine signed in to `server` with recording ports, once the first
/// sign-in's history has been read (its digest popup shown).
async fn engine_past_first_sign_in(server: &Hostile) -> Harness {
    let mut h = Harness::against(&server.url);
    h.login(("tenant", "the-password-9f2c"), false).await;
    h.start_engine(fast_tuning());
    h.wait_popups("the first sign-in's digest", |p| {
        p.iter().any(|p| p.key == PopupKey::Digest)
    })
    .await;
    h
}

/// The catch-up's summary popup for general notifications, waiting for it:
/// what a user sees once a catch-up has ended.
async fn catch_up_summary(h: &Harness) -> smarthunt_core::ports::Popup {
    let key = PopupKey::Summary(NotificationKind::General);
    let popups = h
        .wait_popups("the catch-up's summary", |p| p.iter().any(|p| p.key == key))
        .await;
    popups
        .into_iter()
        .find(|p| p.key == key)
        .expect("waited for it")
}

/// The highest resident memory of this process while it runs, sampled.
struct PeakResident {
    peak: Arc<AtomicU64>,
    done: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl PeakResident {
    fn watch() -> Self {
        let peak = Arc::new(AtomicU64::new(resident_bytes()));
        let done = Arc::new(AtomicBool::new(false));
        let (p, d) = (peak.clone(), done.clone());
        let thread = std::thread::spawn(move || {
            while !d.load(Ordering::SeqCst) {
                p.fetch_max(resident_bytes(), Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self { peak, done, thread }
    }

    fn highest(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }

    fn stop(self) -> u64 {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
        self.peak.load(Ordering::SeqCst)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_over_a_list_that_never_ends_stops_at_its_page_cap() {
    let server = Hostile::start(engine_answers(endless_list(1, small_item))).await;
    let mut h = engine_past_first_sign_in(&server).await;
    let before = server.seen().len();

    h.engine().refresh().await.expect("the engine runs");
    let summary = catch_up_summary(&h).await;

    let pages = catch_up_pages(&server.seen()[before..]);
    assert_eq!(
        pages,
        (1..=CATCH_UP_MAX_PAGES).collect::<Vec<_>>(),
        "each page once, up to the cap, then no more"
    );
    assert_eq!(
        summary.title,
        format!("{CATCH_UP_MAX_PAGES} new notifications"),
        "one summary for all it read"
    );
    let stored = h
        .engine()
        .query(|s| s.notification_count())
        .await
        .expect("the store answers");
    assert_eq!(
        stored,
        u64::from(FIRST_SYNC_PAGES + CATCH_UP_MAX_PAGES),
        "the first sign-in's pages and the catch-up's are all kept"
    );
    h.stop_engine().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catch_up_over_endless_pages_of_the_largest_items_keeps_memory_bounded_and_the_app_running(
) {
    let per_page = large_items_per_page();
    let page = endless_list(per_page, large_item)(1);
    assert!(
        page.len() <= MAX_BODY_BYTES && page.len() > MAX_BODY_BYTES * 9 / 10,
        "pages as large as the client accepts: {} bytes",
        page.len()
    );
    let server = Hostile::start(engine_answers(endless_list(per_page, large_item))).await;
    let mut h = engine_past_first_sign_in(&server).await;
    let before = server.seen().len();
    let resident_before = resident_bytes();
    let peak = PeakResident::watch();

    // 500 such pages are over 1 GiB: held at once, they would show here.
    const BOUND: u64 = 128 << 20;
    h.engine().refresh().await.expect("the engine runs");
    let key = PopupKey::Summary(NotificationKind::General);
    let summary = tokio::time::timeout(WAIT, async {
        loop {
            if peak.highest().saturating_sub(resident_before) >= BOUND {
                return None;
            }
            if let Some(p) = h.notifier.popups().into_iter().find(|p| p.key == key) {
                return Some(p);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the catch-up ends in time");
    let grown = peak.stop().saturating_sub(resident_before);
    assert!(
        grown < BOUND,
        "memory grew by {} MiB during the catch-up",
        grown >> 20
    );
    let summary = summary.expect("the catch-up's summary");
    let pages = catch_up_pages(&server.seen()[before..]);
    assert!(
        !pages.is_empty() && pages.len() <= CATCH_UP_MAX_PAGES as usize,
        "the catch-up ended within its cap: {} pages",
        pages.len()
    );
    assert!(summary.title.ends_with(" new notifications"), "{summary:?}");
    let stored = h
        .engine()
        .query(|s| s.notification_count())
        .await
        .expect("the store answers");
    assert!(
        stored >= (u64::from(FIRST_SYNC_PAGES) + 1) * per_page as u64,
        "what it read is kept: {stored}"
    );

    // The server behaves again: the app, still running, pops what is new.
    server.answer_with(engine_answers(|page| {
        let results = if page == 1 {
            r#"{"id":999999999,"title":"Leak fixed","body":"b","notification_type":"maintenance","is_read":false,"created_at":"2026-01-02T00:00:00Z"}"#
        } else {
            ""
        };
        format!(r#"{{"count":1,"next":null,"previous":null,"results":[{results}]}}"#)
    }));
    h.engine().refresh().await.expect("the engine still runs");
    h.wait_popups("the new notification pops", |p| {
        p.iter().any(|p| p.title == "Leak fixed")
    })
    .await;
    h.stop_engine().await;
}
