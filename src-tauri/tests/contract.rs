//! The window's contract is written from its Rust types (`calls.rs`): the
//! command list `build.rs` declares to Tauri, the capability that grants
//! those commands to the main window only, `ui/app/contract.js`, the
//! names the page calls, listens for and branches on, and
//! `ui/app/types.d.ts`, the shapes of what it sends and gets (by ts-rs).
//! This test fails while any of them disagrees with the types; write them
//! anew with
//! `SMARTHUNT_WRITE_CONTRACT=1 cargo test -p smarthunt-tray --test contract`.

use std::path::{Path, PathBuf};

use smarthunt_tray::calls::{Call, ErrorCode, UiEvent};
use ts_rs::TS;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn commands_list() -> String {
    Call::names().iter().map(|n| format!("{n}\n")).collect()
}

fn capability() -> String {
    let mut permissions = vec![
        "core:event:allow-listen".to_owned(),
        "core:event:allow-unlisten".to_owned(),
    ];
    permissions.extend(
        Call::names()
            .iter()
            .map(|n| format!("allow-{}", n.replace('_', "-"))),
    );
    let capability = serde_json::json!({
        "$schema": "../gen/schemas/desktop-schema.json",
        "identifier": "main-window",
        "description": "What the main window may do: listen to the core's events and call the app's commands. Nothing else.",
        "windows": ["main"],
        "permissions": permissions,
    });
    serde_json::to_string_pretty(&capability).unwrap() + "\n"
}

/// `names` quoted for JavaScript, joined by `sep`.
fn quoted(names: &[&str], sep: &str) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(sep)
}

fn contract_js() -> String {
    let (calls, events, codes) = (Call::names(), UiEvent::names(), ErrorCode::names());
    format!(
        "// Written from src-tauri/src/calls.rs by\n\
         // `SMARTHUNT_WRITE_CONTRACT=1 cargo test -p smarthunt-tray --test contract`;\n\
         // do not edit: the test fails while this disagrees with the Rust types.\n\
         \n\
         /** @typedef {{{}}} Command a call the page may make */\n\
         /** @typedef {{{}}} EventName an event the page may listen for */\n\
         /** @typedef {{{}}} ErrorCode what kind of failure a call met */\n\
         \n\
         /** @type {{readonly Command[]}} */\n\
         export const COMMANDS = Object.freeze([{}]);\n\
         /** @type {{readonly EventName[]}} */\n\
         export const EVENTS = Object.freeze([{}]);\n\
         /** @type {{readonly ErrorCode[]}} */\n\
         export const ERROR_CODES = Object.freeze([{}]);\n",
        quoted(calls, "|"),
        quoted(events, "|"),
        quoted(codes, "|"),
        quoted(calls, ", "),
        quoted(events, ", "),
        quoted(codes, ", "),
    )
}

/// One type's declaration for `types.d.ts`: exported, with 64-bit
/// integers as `number`. ts-rs writes `bigint` for them, but serde_json
/// sends them as JSON numbers, and that is what the page gets (no field
/// here is named or typed otherwise `bigint`).
fn declared<T: TS>() -> String {
    format!("export {}\n", T::decl().replace("bigint", "number"))
}

/// The shapes the page reads and sends, from the Rust types the shell
/// serialises: `ui/app/types.d.ts`, which the page's JSDoc imports as
/// `import('./types.js')` (TypeScript resolves it to the declarations).
fn types_d_ts() -> String {
    use smarthunt_core::connection::{ConnectionState, ServerVariant};
    use smarthunt_core::engine::{AccountInfo, EngineEvent, EngineStatus};
    use smarthunt_core::policy::{PauseFor, PolicyChange, PolicySettings, QuietHours};
    use smarthunt_core::protocol::{NotificationContext, NotificationKind};
    use smarthunt_core::store::{Conversation, StoredChatMessage};
    use smarthunt_tray::calls::{
        Decide, Item, ListArgs, Listed, OpenItem, SendArgs, Settings, SignInArgs, ThreadArgs,
    };
    let decls = [
        declared::<Call>(),
        declared::<ListArgs>(),
        declared::<Item>(),
        declared::<Decide>(),
        declared::<ThreadArgs>(),
        declared::<SendArgs>(),
        declared::<EngineStatus>(),
        declared::<ConnectionState>(),
        declared::<ServerVariant>(),
        declared::<AccountInfo>(),
        declared::<EngineEvent>(),
        declared::<Listed>(),
        declared::<NotificationKind>(),
        declared::<NotificationContext>(),
        declared::<Conversation>(),
        declared::<StoredChatMessage>(),
        declared::<PolicySettings>(),
        declared::<QuietHours>(),
        declared::<PolicyChange>(),
        declared::<PauseFor>(),
        declared::<Settings>(),
        declared::<SignInArgs>(),
        declared::<OpenItem>(),
    ];
    format!(
        "// Written from the Rust types (smarthunt-core, src-tauri/src/calls.rs) by\n\
         // `SMARTHUNT_WRITE_CONTRACT=1 cargo test -p smarthunt-tray --test contract`;\n\
         // do not edit: the test fails while this disagrees with them.\n\
         \n{}",
        decls.join("\n")
    )
}

#[test]
fn the_command_list_the_capability_and_the_pages_names_come_from_the_types() {
    let write = std::env::var_os("SMARTHUNT_WRITE_CONTRACT").is_some();
    for (path, want) in [
        ("src-tauri/commands.list", commands_list()),
        ("src-tauri/capabilities/main.json", capability()),
        ("ui/app/contract.js", contract_js()),
        ("ui/app/types.d.ts", types_d_ts()),
    ] {
        let path = root().join(path);
        if write {
            std::fs::write(&path, &want).unwrap();
        }
        let got = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            got == want,
            "{} disagrees with src-tauri/src/calls.rs: write it with SMARTHUNT_WRITE_CONTRACT=1",
            path.display()
        );
    }
}
