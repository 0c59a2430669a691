// Written from the Rust types (smarthunt-core, src-tauri/src/calls.rs) by
// `SMARTHUNT_WRITE_CONTRACT=1 cargo test -p smarthunt-tray --test contract`;
// do not edit: the test fails while this disagrees with them.

export type Call = { "cmd": "get_status", "args": Record<string, never> } | { "cmd": "list_notifications", "args": ListArgs } | { "cmd": "open_notification", "args": Item } | { "cmd": "mark_read", "args": Item } | { "cmd": "mark_all_read", "args": Record<string, never> } | { "cmd": "decide_booking", "args": Decide } | { "cmd": "list_conversations", "args": Record<string, never> } | { "cmd": "get_thread", "args": ThreadArgs } | { "cmd": "send_message", "args": SendArgs } | { "cmd": "get_settings", "args": Record<string, never> } | { "cmd": "set_policy", "args": { change: PolicyChange, } } | { "cmd": "set_autostart", "args": { enabled: boolean, } } | { "cmd": "pause", "args": { pause: PauseFor, } } | { "cmd": "retry_now", "args": Record<string, never> } | { "cmd": "sign_in", "args": SignInArgs } | { "cmd": "sign_out", "args": Record<string, never> } | { "cmd": "window_opened", "args": Record<string, never> } | { "cmd": "first_page_shown", "args": { rows: number, } };

export type ListArgs = { kind: string | null, unreadOnly: boolean, before: number | null, limit: number, };

export type Item = { localId: number, };

export type Decide = { localId: number, approve: boolean, };

export type ThreadArgs = { otherId: number, before: number | null, limit: number, };

export type SendArgs = { receiver: number, content: string, };

export type EngineStatus = { connection: ConnectionState, unread: number, account: AccountInfo | null, outbox_pending: number, 
/**
 * Popups are paused until then (unix ms); cleared, and published, the
 * moment the pause ends.
 */
paused_until_ms: number | null, 
/**
 * Inside the user's quiet hours now (popups held); published as they
 * begin and end.
 */
quiet_now: boolean, 
/**
 * Why the local store cannot be written (disk full, read-only), until
 * a write succeeds again. Live notifications still pop meanwhile.
 */
storage_error: string | null, };

export type ConnectionState = { "state": "starting" } | { "state": "not_signed_in" } | { "state": "signed_out", reason: string, } | { "state": "keychain_unavailable", message: string, } | { "state": "config_unreadable", message: string, } | { "state": "connecting" } | { "state": "connected", variant: ServerVariant, } | { "state": "reconnecting", attempt: number, retry_at_ms: number, last_error: string, } | { "state": "stopped" };

export type ServerVariant = "unknown" | "documented" | "legacy";

export type AccountInfo = { server: string, username: string, user_id: number | null, role: string | null, };

export type EngineEvent = { "kind": "notifications_changed" } | { "kind": "notification_added", local_id: number, } | { "kind": "chat_changed" } | { "kind": "booking_decided", booking_id: number, approved: boolean, };

export type StoredNotification = { local_id: number, server_id: number | null, title: string, body: string, kind: NotificationKind, context: NotificationContext, created_at: string | null, received_at_ms: number, is_read: boolean, popped: boolean, can_decide: boolean, };

export type NotificationKind = "booking" | "message" | "maintenance" | "property" | "review" | "general";

export type NotificationContext = { booking_id: number | null, maintenance_id: number | null, message_id: number | null, review_id: number | null, property_id: number | null, property_title: string | null, 
/**
 * A booking's or maintenance request's status, as the server says it.
 */
status: string | null, 
/**
 * Calendar dates (`YYYY-MM-DD`), as the server says them.
 */
check_in_date: string | null, check_out_date: string | null, sender_id: number | null, sender_name: string | null, tenant_id: number | null, tenant_name: string | null, landlord_id: number | null, landlord_name: string | null, 
/**
 * Stars, 0 to 5; anything else is left out.
 */
rating: number | null, content_preview: string | null, };

export type Conversation = { other_id: number, other_name: string | null, last_content: string, 
/**
 * The server's time of the last message when known, else when it
 * arrived here (or was queued, for a pending send).
 */
last_at_ms: number, 
/**
 * Messages from the other person not read yet.
 */
unread: number, };

export type StoredChatMessage = { local_id: number, server_id: number | null, sender_id: number, recipient_id: number, content: string, sent_at: string | null, 
/**
 * The ordering time (see [`Conversation::last_at_ms`]).
 */
at_ms: number, is_read: boolean, 
/**
 * Queued in the outbox, not acknowledged by the server yet.
 */
pending: boolean, };

export type PolicySettings = { 
/**
 * Popups are never shown for these kinds (they are still stored and
 * counted).
 */
muted: Array<NotificationKind>, quiet_hours: QuietHours | null, 
/**
 * "Pause notifications" until this time (unix ms).
 */
paused_until_ms: number | null, sound: boolean, };

export type QuietHours = { start: string, end: string, };

export type PolicyChange = { muted?: Array<NotificationKind>, 
/**
 * `Some(None)` (JSON `null`) turns quiet hours off.
 */
quiet_hours?: QuietHours | null, sound?: boolean, };

export type PauseFor = { "for": "minutes", minutes: number, } | { "for": "until", until_ms: number, } | { "for": "tomorrow_morning" } | { "for": "resume" };

export type Settings = { policy: PolicySettings, autostart: boolean, server: string | null, ca_file: string | null, allow_insecure_http: boolean, };

export type SignInArgs = { server: string, username: string, password: string, staySignedIn: boolean, caFile: string | null, allowInsecureHttp: boolean, };

export type OpenItem = { view: 'notifications' | 'chat' | 'settings', localId: number | null, otherId: number | null, 
/**
 * A conversation opens with its composer focused (Reply).
 */
compose: boolean, };
