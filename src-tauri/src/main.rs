//! `smarthunt-tray`: SmartHunt Desktop's binary. Parses the command line and
//! hands over to the tray app, the headless runner or the account commands;
//! it holds no logic of its own that the core could hold.

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use smarthunt_tray::cli::{Cli, Command};
use smarthunt_tray::{block_on, data_dir, headless, logging, shell};

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Before any thread, any file: what this process writes is private.
    smarthunt_core::private::restrict_umask();
    // Every command logs the same way (scrubbed, to stderr and the data
    // dir's logs, panics too), the guard kept until the process ends so
    // the file writer flushes. The demo's run logs into its throwaway dir;
    // `login` and `logout` act on the real one even with `--demo`.
    let demo_run = cli.demo && cli.command.is_none();
    let _log = if demo_run {
        None
    } else {
        let dir = data_dir();
        if let Err(e) = smarthunt_core::private::ensure_dir(&dir) {
            eprintln!("smarthunt-tray: {e}");
            return ExitCode::from(5);
        }
        smarthunt_core::private::tighten_tree(&dir);
        logging::init(&dir)
    };
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
        None if cli.demo => shell::run_demo(cli.hidden),
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
