//! smarthunt-core: everything SmartHunt Desktop does that is not GUI. It must
//! not depend on Tauri, a window system or any desktop service directly:
//! those come in through the ports in [`ports`] and [`secret`].

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
