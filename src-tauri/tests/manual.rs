//! The manual pages the packages install, `packaging/man/`, are the command
//! line itself rendered by clap_mangen (so they cannot drift from
//! `--help`), as the packaged build has it: without the demo. When the
//! command line changes, `SMARTHUNT_WRITE_MANUAL=1 cargo test -p
//! smarthunt-tray --test manual` writes them anew.

use clap::CommandFactory;

/// Each page's file name and roff text: the command's, then one per
/// subcommand (as `git-commit(1)` is to `git(1)`).
fn pages() -> Vec<(String, String)> {
    fn walk(command: clap::Command, out: &mut Vec<(String, String)>) {
        let man = clap_mangen::Man::new(command.clone()).manual("SmartHunt Desktop");
        let mut page = Vec::new();
        man.render(&mut page).expect("the page renders");
        out.push((man.get_filename(), String::from_utf8(page).unwrap()));
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub.clone(), out);
        }
    }
    let mut command = smarthunt_tray::cli::Cli::command()
        .name("smarthunt-tray")
        .mut_arg("demo", |a| a.hide(true))
        .disable_help_subcommand(true);
    command.build();
    let mut out = Vec::new();
    walk(command, &mut out);
    out
}

#[test]
fn the_installed_manual_pages_say_what_the_command_line_does() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/man");
    let pages = pages();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "smarthunt-tray.1",
            "smarthunt-tray-login.1",
            "smarthunt-tray-logout.1"
        ]
    );
    for (name, page) in &pages {
        let path = dir.join(name);
        if std::env::var_os("SMARTHUNT_WRITE_MANUAL").is_some() {
            std::fs::write(&path, page).unwrap();
        }
        let installed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            installed == *page,
            "{} is not what the command line says; write it anew with \
             SMARTHUNT_WRITE_MANUAL=1 cargo test -p smarthunt-tray --test manual",
            path.display()
        );
        assert!(
            !page.contains("demo"),
            "{name}: the packaged build has no demo"
        );
    }
    // What a reader looks for, in roff's escapes undone.
    let text = |i: usize| pages[i].1.replace('\\', "");
    for said in [
        "--hidden",
        "--headless",
        "smarthunt-tray-login",
        "Exit codes",
        "SMARTHUNT_DATA_DIR",
    ] {
        assert!(
            text(0).contains(said),
            "smarthunt-tray.1 does not mention {said}"
        );
    }
    for said in [
        "--server",
        "--username",
        "--password-stdin",
        "--stay-signed-in",
        "--ca-file",
    ] {
        assert!(
            text(1).contains(said),
            "smarthunt-tray-login.1 does not mention {said}"
        );
    }
}
