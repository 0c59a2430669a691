//! The current account's store, shared by the engine, the catch-up and the
//! window's queries. Every call runs on a blocking thread, never on the
//! async runtime's workers.

use std::sync::{Arc, Mutex};

use super::{Store, StoreError};

/// Why a call on the `StoreCell` did not run, or what it returned.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No account's store is open: nobody is signed in.
    #[error("not signed in")]
    NotOpen,
    /// The blocking thread the call ran on was lost (the runtime is
    /// shutting down).
    #[error("the store's worker stopped")]
    Stopped,
}

/// The current account's store, or none while nobody is signed in.
#[derive(Clone, Default)]
pub(crate) struct StoreCell(Arc<Mutex<Option<Store>>>);

impl StoreCell {
    /// Runs `f` on the open store, on a blocking thread.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, CellError> {
        self.start(f).await.map_err(|_| CellError::Stopped)?
    }

    /// [`Self::run`], started now (the caller goes on while it runs); its
    /// handle gives the outcome.
    pub(crate) fn start<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<T, CellError>> {
        let cell = self.0.clone();
        tokio::task::spawn_blocking(move || {
            // A poisoned lock still guards a consistent SQLite connection.
            let mut guard = cell.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_mut() {
                Some(store) => f(store).map_err(CellError::from),
                None => Err(CellError::NotOpen),
            }
        })
    }

    /// Closes the store (it waits for its last checkpoint) off the
    /// runtime's threads.
    pub(crate) async fn close(&self) {
        let cell = self.0.clone();
        let _ = tokio::task::spawn_blocking(move || {
            let store = cell.lock().unwrap_or_else(|p| p.into_inner()).take();
            drop(store);
        })
        .await;
    }

    pub(crate) fn set(&self, store: Option<Store>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = store;
    }
}
