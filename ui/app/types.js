/**
 * The IPC contract's shapes, as JSDoc types for `tsc --checkJs`. They
 * mirror the Rust types the shell serialises (smarthunt-core's
 * EngineStatus, StoredNotification, Conversation, StoredChatMessage,
 * PolicySettings). No code.
 */

/**
 * @typedef {'starting'|'not_signed_in'|'signed_out'|'keychain_unavailable'|'config_unreadable'|'connecting'|'connected'|'reconnecting'|'stopped'} ConnectionStateName
 *
 * @typedef {object} ConnectionState
 * @property {ConnectionStateName} state
 * @property {string} [reason] signed_out
 * @property {string} [message] keychain_unavailable, config_unreadable
 * @property {'unknown'|'documented'|'legacy'} [variant] connected
 * @property {number} [attempt] reconnecting
 * @property {number} [retry_at_ms] reconnecting, unix ms
 * @property {string} [last_error] reconnecting
 *
 * @typedef {object} AccountInfo
 * @property {string} server
 * @property {string} username
 * @property {number|null} user_id
 * @property {string|null} role landlord, tenant or admin
 *
 * @typedef {object} EngineStatus
 * @property {ConnectionState} connection
 * @property {number} unread
 * @property {AccountInfo|null} account
 * @property {number} outbox_pending
 * @property {number|null} paused_until_ms popups paused until then; the core clears it when the pause ends
 * @property {boolean} [quiet_now] inside quiet hours now (popups held)
 * @property {string|null} [storage_error] why the local store cannot be written
 *
 * @typedef {object} StoredNotification
 * @property {number} local_id
 * @property {number|null} server_id
 * @property {string} title
 * @property {string} body
 * @property {string} kind booking, message, maintenance, property, review or general
 * @property {NotificationContext} context what it is about, typed by the core
 * @property {string|null} created_at ISO-8601
 * @property {number} received_at_ms
 * @property {boolean} is_read
 * @property {boolean} popped
 * @property {boolean} [can_decide] the core says the signed-in user can approve or decline it
 *
 * @typedef {object} NotificationContext smarthunt-core's protocol::NotificationContext
 * @property {number|null} [booking_id]
 * @property {number|null} [maintenance_id]
 * @property {number|null} [message_id]
 * @property {number|null} [review_id]
 * @property {number|null} [property_id]
 * @property {string|null} [property_title]
 * @property {string|null} [status] a booking's or maintenance request's, as the server says it
 * @property {string|null} [check_in_date] YYYY-MM-DD
 * @property {string|null} [check_out_date] YYYY-MM-DD
 * @property {number|null} [sender_id]
 * @property {string|null} [sender_name]
 * @property {number|null} [tenant_id]
 * @property {string|null} [tenant_name]
 * @property {number|null} [landlord_id]
 * @property {string|null} [landlord_name]
 * @property {number|null} [rating] stars, 0 to 5
 * @property {string|null} [content_preview]
 *
 * @typedef {object} Conversation
 * @property {number} other_id
 * @property {string|null} other_name
 * @property {string} last_content
 * @property {number} last_at_ms
 * @property {number} unread
 *
 * @typedef {object} ChatMessage
 * @property {number} local_id
 * @property {number|null} server_id
 * @property {number} sender_id
 * @property {number} recipient_id
 * @property {string} content
 * @property {string|null} sent_at
 * @property {boolean} pending
 * @property {number} at_ms
 * @property {boolean} is_read
 *
 * @typedef {object} PopupPolicy
 * @property {string[]} muted
 * @property {{start: string, end: string}|null} quiet_hours
 * @property {number|null} paused_until_ms
 * @property {boolean} sound
 *
 * A change to the popup settings: only the fields present change (never the pause).
 * @typedef {object} PolicyChange
 * @property {string[]} [muted]
 * @property {{start: string, end: string}|null} [quiet_hours] null turns them off
 * @property {boolean} [sound]
 *
 * A pause as the user asks for it; the core works out its end.
 * @typedef {{for: 'minutes', minutes: number} | {for: 'tomorrow_morning'} | {for: 'resume'}} PauseFor
 *
 * @typedef {object} Settings
 * @property {PopupPolicy} policy
 * @property {boolean} autostart
 * @property {string|null} server
 * @property {string|null} ca_file
 * @property {boolean} allow_insecure_http
 *
 * @typedef {object} SignInArgs
 * @property {string} server
 * @property {string} username
 * @property {string} password
 * @property {boolean} staySignedIn
 * @property {string|null} caFile
 * @property {boolean} allowInsecureHttp
 *
 * @typedef {object} EngineEvent
 * @property {'notifications_changed'|'notification_added'|'chat_changed'|'booking_decided'} kind
 * @property {number} [local_id]
 * @property {number} [booking_id]
 * @property {boolean} [approved]
 *
 * @typedef {object} OpenItem
 * @property {'notifications'|'chat'|'settings'} view
 * @property {number} [localId]
 * @property {number} [otherId]
 * @property {boolean} [compose] a popup's Reply: focus the composer
 */

export {};
