//! The command line of `smarthunt-tray`: what `--help` and the manual pages
//! (`packaging/man/`, rendered from this by clap_mangen) say.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub const EXIT_CODES: &str = "\
Exit codes:
  0   success (also: logout when nobody was signed in)
  1   unexpected failure
  2   bad command line
  3   not signed in (run `smarthunt-tray login ...` first)
  4   another SmartHunt engine already uses this data dir
  5   the data dir is not private (another user owns it,
      or group or others can write to it)
  10  the username or password was not accepted
  11  the server cannot be reached
  12  no keychain, or the keychain is locked
  13  the server address, CA file or TLS setup is not usable
      (an untrusted certificate too: give the server's CA
      with --ca-file)
  14  the server failed or answered something unexpected

Environment:
  SMARTHUNT_DATA_DIR   where the store, config and logs live
  SMARTHUNT_LOG        log filter (e.g. debug)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY
                       honoured by REST and the WebSocket";

/// SmartHunt Desktop: real-time notifications from SmartHunt in your tray.
#[derive(Parser)]
#[command(version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Run the engine without window or tray, raising OS notifications,
    /// until SIGINT or SIGTERM.
    #[arg(long)]
    pub headless: bool,
    /// Start an embedded SmartHunt dev server with its event scenario and
    /// sign in to it (a throwaway data dir and account); with --headless,
    /// without window or tray. Not in packaged builds.
    #[arg(long, hide = !cfg!(feature = "demo"))]
    pub demo: bool,
    /// Start in the tray with no window (as autostart does).
    #[arg(long)]
    pub hidden: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Sign in and make this the current account.
    Login {
        /// The SmartHunt server, as http(s)://host[:port].
        #[arg(long)]
        server: String,
        /// Your SmartHunt username.
        #[arg(long)]
        username: String,
        /// Read the password from standard input (to its end; one trailing
        /// newline is dropped).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// Keep the password in the keychain to sign in again silently when
        /// the session ends.
        #[arg(long)]
        stay_signed_in: bool,
        /// A PEM file of extra CA certificates (self-signed servers).
        #[arg(long)]
        ca_file: Option<PathBuf>,
        /// Allow plain http/ws to a host that is not this computer.
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Sign the current account out: its keychain entry and local data go.
    Logout,
}
