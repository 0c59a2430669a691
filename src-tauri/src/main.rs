//! `smarthunt-tray`: SmartHunt Desktop's binary. Parses the command line and
//! hands over to the tray app, the headless runner or the account commands;
//! it holds no logic of its own that the core could hold.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use smarthunt_tray::{block_on, data_dir, headless, shell};

const EXIT_CODES: &str = "\
Exit codes:
  0   success (also: logout when nobody was signed in)
  1   unexpected failure
  2   bad command line
  3   not signed in (run `smarthunt-tray login ...` first)
  4   another SmartHunt engine already uses this data dir
  5   the data dir is not private (another user owns it, or group or
      others can write to it)
  10  the username or password was not accepted
  11  the server cannot be reached
  12  no keychain, or the keychain is locked
  13  the server address, CA file or TLS setup is not usable (an untrusted
      certificate too: give the server's CA with --ca-file)
  14  the server failed or answered something unexpected

Environment:
  SMARTHUNT_DATA_DIR   where the store, config and logs live
  SMARTHUNT_LOG        log filter (e.g. debug)
  HTTPS_PROXY, HTTP_PROXY, NO_PROXY   honoured by REST and the WebSocket";

/// SmartHunt Desktop: real-time notifications from SmartHunt in your tray.
#[derive(Parser)]
#[command(version, after_help = EXIT_CODES)]
struct Cli {
    /// Run the engine without window or tray, raising OS notifications,
    /// until SIGINT or SIGTERM.
    #[arg(long)]
    headless: bool,
    /// Start an embedded SmartHunt dev server with its event scenario and
    /// sign in to it (a throwaway data dir and account); with --headless,
    /// without window or tray. Not in packaged builds.
    #[arg(long)]
    demo: bool,
    /// Start in the tray with no window (as autostart does).
    #[arg(long)]
    hidden: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Sign in and make this the current account.
    Login {
        /// The SmartHunt server, as http(s)://host[:port].
        #[arg(long)]
        server: String,
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread, any file: what this process writes is private.
    smarthunt_core::private::restrict_umask();
    if !cli.demo {
        let dir = data_dir();
        if let Err(e) = smarthunt_core::private::ensure_dir(&dir) {
            eprintln!("smarthunt-tray: {e}");
            return ExitCode::from(5);
        }
        smarthunt_core::private::tighten_tree(&dir);
    }
    let code = match cli.command {
        Some(Command::Login {
            server,
            username,
            password_stdin: _,
            stay_signed_in,
            ca_file,
            allow_insecure_http,
        }) => {
            let password = match read_password() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("smarthunt-tray: cannot read the password from standard input: {e}");
                    return ExitCode::from(2);
                }
            };
            let req = smarthunt_core::account::LoginRequest {
                server,
                username,
                password,
                stay_signed_in,
                transport: smarthunt_core::transport::TransportOptions {
                    ca_file,
                    allow_insecure_http,
                },
            };
            block_on(headless::login(&data_dir(), req))
        }
        Some(Command::Logout) => block_on(headless::logout(&data_dir())),
        #[cfg(feature = "demo")]
        None if cli.demo && cli.headless => block_on(smarthunt_tray::demo::headless()),
        #[cfg(feature = "demo")]
        None if cli.demo => shell::run_demo(),
        #[cfg(not(feature = "demo"))]
        None if cli.demo => {
            eprintln!("smarthunt-tray: this build has no demo (built without the `demo` feature)");
            2
        }
        None if cli.headless => block_on(headless::run(&data_dir())),
        None => shell::run(data_dir(), cli.hidden),
    };
    ExitCode::from(code)
}

/// The whole of standard input, less one trailing newline.
fn read_password() -> std::io::Result<smarthunt_core::secret::Sensitive> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    if s.ends_with('\n') {
        s.pop();
        if s.ends_with('\r') {
            s.pop();
        }
    }
    Ok(smarthunt_core::secret::Sensitive::new(s))
}
