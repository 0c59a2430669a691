//! Tells the engine when the network comes back, from NetworkManager's
//! `StateChanged` signal on the system bus. Where there is no system bus or
//! no NetworkManager it does nothing: the backoff and heartbeat still
//! recover, only later.

use futures_util::StreamExt;

/// NetworkManager's NM_STATE_CONNECTED_GLOBAL.
const CONNECTED_GLOBAL: u32 = 70;

/// Calls `on_up` each time NetworkManager reports full connectivity, for as
/// long as the returned task runs.
pub fn watch(on_up: impl Fn() + Send + Sync + 'static) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = run(&on_up).await {
            tracing::info!(error = %e, "not watching NetworkManager");
        }
    })
}

async fn run(on_up: &(dyn Fn() + Send + Sync)) -> zbus::Result<()> {
    let conn = zbus::Connection::system().await?;
    let proxy = zbus::Proxy::new(
        &conn,
        "org.freedesktop.NetworkManager",
        "/org/freedesktop/NetworkManager",
        "org.freedesktop.NetworkManager",
    )
    .await?;
    let mut signals = proxy.receive_signal("StateChanged").await?;
    tracing::info!("watching NetworkManager for connectivity changes");
    while let Some(msg) = signals.next().await {
        if let Ok(state) = msg.body().deserialize::<u32>() {
            if state == CONNECTED_GLOBAL {
                tracing::info!("the network is back: reconnecting now");
                on_up();
            }
        }
    }
    Ok(())
}
