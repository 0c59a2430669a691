// Written from src-tauri/src/calls.rs by
// `SMARTHUNT_WRITE_CONTRACT=1 cargo test -p smarthunt-tray --test contract`;
// do not edit: the test fails while this disagrees with the Rust types.

/** @typedef {'get_status'|'list_notifications'|'open_notification'|'mark_read'|'mark_all_read'|'decide_booking'|'list_conversations'|'get_thread'|'send_message'|'get_settings'|'set_policy'|'set_autostart'|'pause'|'retry_now'|'sign_in'|'sign_out'|'window_opened'|'first_page_shown'} Command a call the page may make */
/** @typedef {'status'|'engine-event'|'open-item'} EventName an event the page may listen for */
/** @typedef {'not_signed_in'|'signed_out'|'invalid_credentials'|'unreachable'|'keychain'|'bad_input'|'server'|'internal'} ErrorCode what kind of failure a call met */

/** @type {readonly Command[]} */
export const COMMANDS = Object.freeze(['get_status', 'list_notifications', 'open_notification', 'mark_read', 'mark_all_read', 'decide_booking', 'list_conversations', 'get_thread', 'send_message', 'get_settings', 'set_policy', 'set_autostart', 'pause', 'retry_now', 'sign_in', 'sign_out', 'window_opened', 'first_page_shown']);
/** @type {readonly EventName[]} */
export const EVENTS = Object.freeze(['status', 'engine-event', 'open-item']);
/** @type {readonly ErrorCode[]} */
export const ERROR_CODES = Object.freeze(['not_signed_in', 'signed_out', 'invalid_credentials', 'unreachable', 'keychain', 'bad_input', 'server', 'internal']);
