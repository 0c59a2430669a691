//! smarthunt-core: everything SmartHunt Desktop does that is not GUI. It must
//! not depend on Tauri, a window system or any desktop service directly:
//! those come in through the ports in [`ports`] and [`secret`].
//!
//! One notification's way, file by file (each calls only what is below it;
//! results come back as return values, events or task results, never as
//! calls into the caller):
//!
//! 1. `crates/core/src/transport.rs`: the socket (TLS, proxy, Origin).
//! 2. `crates/core/src/protocol.rs`: the frame decoded, text cut to size;
//!    what a notification is about typed once (`NotificationContext`).
//! 3. `crates/core/src/engine.rs`: the IO loop. It reads the frame, keeps it,
//!    asks the presenter, publishes the status; its connection is run by
//!    `connection.rs`'s `Supervisor` (pure).
//! 4. `crates/core/src/store/notifications.rs`: kept once (dedupe), counted.
//! 5. `crates/core/src/presenter.rs`: the popup (with `policy.rs`'s pure
//!    rules: burst, quiet hours, who may approve).
//! 6. `src-tauri/src/desktop_notifier.rs`: the OS popup over D-Bus, and its
//!    actions back to `shell/actions.rs`.
//! 7. `src-tauri/src/shell/mod.rs` (`forward_core_changes`): the engine's
//!    status and events to the tray and the window.
//! 8. `src-tauri/src/shell/tray.rs`: the badge (drawn by `badge.rs`), and
//!    `shell/window.rs` on to the window's page (`ui/app/`).

pub mod account;
pub mod api;
pub mod badge;
pub mod config;
pub mod connection;
pub mod engine;
pub mod policy;
pub mod ports;
pub mod presenter;
pub mod private;
pub mod protocol;
pub mod secret;
pub mod session;
pub mod store;
pub mod sync;
pub mod transport;
pub mod unread;
