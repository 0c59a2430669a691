//! Gives back what the window held once it is closed, so an app that sits
//! in the tray all day costs what it did before the window was first opened.
//!
//! Closing destroys the window, and WebKit ends its web process with it.
//! WebKitGTK keeps its network process for as long as the web context
//! lives, and Tauri keeps that context for the app's lifetime on Linux
//! (tauri-apps/tauri#14626): some 60 MB for nothing. Once no window is
//! left, we end that process ourselves; WebKit starts a new one when the
//! next window loads, as it does after any helper process exits. The heap
//! the window used goes back to the system too: glibc keeps freed memory
//! for reuse unless asked to return it.

use std::time::Duration;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use tauri::{AppHandle, Manager};

use super::window::MAIN;

/// WebKit tears the page down after the window is gone; wait for that.
const SETTLE: Duration = Duration::from_secs(2);

/// `/proc/<pid>/comm` of WebKitGTK's network process (cut to 15 bytes).
const NETWORK_PROCESS: &str = "WebKitNetworkPr";

/// Called when the main window is destroyed.
pub fn window_destroyed(app: &AppHandle) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        tokio::time::sleep(SETTLE).await;
        // Reopened meanwhile: it needs its helpers.
        if app.get_webview_window(MAIN).is_some() {
            return;
        }
        let ended = tokio::task::spawn_blocking(|| {
            let ended = end_network_processes();
            return_freed_heap();
            ended
        })
        .await
        .unwrap_or(0);
        tracing::info!(
            network_processes = ended,
            "window closed: WebKit's idle helpers ended"
        );
    });
}

/// Ends our own WebKit network processes (children of this process only);
/// returns how many were asked to.
fn end_network_processes() -> usize {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| is_network_process_of(pid, me))
        .filter(|&pid| match kill(Pid::from_raw(pid), Signal::SIGTERM) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(pid, error = %e, "cannot end WebKit's network process");
                false
            }
        })
        .count()
}

fn is_network_process_of(pid: i32, parent: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (comm, ppid) = comm_and_parent(&stat)?;
            Some(comm == NETWORK_PROCESS && ppid == parent)
        })
        .unwrap_or(false)
}

/// The command name and parent pid from a `/proc/<pid>/stat` line,
/// "pid (comm) state ppid ...". The name may hold spaces and parentheses,
/// so the fields are read after the last ')'.
fn comm_and_parent(stat: &str) -> Option<(&str, u32)> {
    let (head, tail) = stat.rsplit_once(')')?;
    let (_, comm) = head.split_once('(')?;
    let ppid = tail.split_whitespace().nth(1)?.parse().ok()?;
    Some((comm, ppid))
}

fn return_freed_heap() {
    // SAFETY: malloc_trim only releases free memory at the top of glibc's
    // heaps and in its free lists back to the kernel; it takes glibc's own
    // locks and touches no memory that is in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_the_name_and_the_parent() {
        assert_eq!(
            comm_and_parent("4242 (WebKitNetworkPr) S 4100 4100 4100 0 -1 4194560"),
            Some((NETWORK_PROCESS, 4100))
        );
        assert_eq!(
            comm_and_parent("7 (a (b) c) R 1 7 7 0 -1"),
            Some(("a (b) c", 1)),
            "a name with spaces and parentheses"
        );
        assert_eq!(comm_and_parent("7 (x) R"), None, "cut short");
        assert_eq!(comm_and_parent("garbage"), None);
    }

    #[test]
    fn only_children_of_ours_named_so_count() {
        let me = std::process::id();
        assert!(
            !is_network_process_of(me as i32, std::os::unix::process::parent_id()),
            "this test is not a network process"
        );
        assert_eq!(end_network_processes(), 0, "a test process has none");
    }
}
