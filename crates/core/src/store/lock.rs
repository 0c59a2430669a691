//! One engine per data directory, enforced by an OS file lock; it guards nothing but the directory and never deletes the lock file.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::StoreError;

const LOCK_FILE: &str = "engine.lock";

/// Holds an exclusive lock on `<dir>/engine.lock` for the life of the value.
///
/// The OS drops the lock when the process dies, however it dies, so a crash
/// never leaves a stale lock behind. The file itself stays (removing it
/// would let two engines lock two different files of the same name); it
/// holds the owner's process id for a curious human.
#[derive(Debug)]
pub struct DataDirLock {
    dir: PathBuf,
    _file: File,
}

impl DataDirLock {
    /// Takes the lock, creating `dir` if needed. A second acquire anywhere
    /// (this process or another) fails with [`StoreError::AlreadyRunning`]
    /// until the first value is dropped.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, StoreError> {
        crate::private::ensure_dir(dir).map_err(|e| StoreError::Io(e.to_string()))?;
        let path = dir.join(LOCK_FILE);
        let mut file = crate::private::open_file(&path)
            .map_err(|e| StoreError::Io(format!("cannot open {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(StoreError::AlreadyRunning {
                    dir: dir.to_owned(),
                })
            }
            Err(TryLockError::Error(e)) => {
                return Err(StoreError::Io(format!(
                    "cannot lock {}: {e}",
                    path.display()
                )))
            }
        }
        // Only informative: failing to write the pid is not a reason to fail.
        let _ = file
            .set_len(0)
            .and_then(|()| writeln!(file, "{}", std::process::id()));
        Ok(DataDirLock {
            dir: dir.to_owned(),
            _file: file,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    const CHILD_ENV: &str = "SMARTHUNT_TEST_LOCK_CHILD_DIR";

    #[test]
    fn a_second_engine_on_the_same_dir_is_refused_until_the_first_stops() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::acquire(dir.path()).unwrap();
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyRunning { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "another SmartHunt engine is already using {}",
                dir.path().display()
            )
        );
        drop(first);
        DataDirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn different_dirs_do_not_conflict() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let _la = DataDirLock::acquire(a.path()).unwrap();
        let _lb = DataDirLock::acquire(&b.path().join("nested")).unwrap();
    }

    #[test]
    fn a_lock_held_by_another_process_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "store::lock::tests::child_holds_the_lock_until_stdin_closes",
                "--ignored",
                "--nocapture",
            ])
            .env(CHILD_ENV, dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let locked = lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("child-locked"));
        assert!(locked, "the child process never took the lock");
        let err = DataDirLock::acquire(dir.path()).unwrap_err();
        assert!(matches!(err, StoreError::AlreadyRunning { .. }), "{err:?}");
        // Closing its stdin lets the child finish; read its output to the end
        // so it never writes into a closed pipe.
        drop(child.stdin.take());
        lines.for_each(drop);
        assert!(child.wait().unwrap().success());
        DataDirLock::acquire(dir.path()).unwrap();
    }

    /// The other process of the test above; does nothing when run alone.
    #[test]
    #[ignore]
    fn child_holds_the_lock_until_stdin_closes() {
        let Some(dir) = std::env::var_os(CHILD_ENV) else {
            return;
        };
        let _lock = DataDirLock::acquire(Path::new(&dir)).unwrap();
        println!("child-locked");
        let mut line = String::new();
        while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {}
    }
}
