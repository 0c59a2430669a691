//! What the app writes is the user's alone: directories 0700 and files 0600
//! whatever the umask, created so that nothing planted in their place is
//! followed, and a data dir that someone else could change is refused
//! before anything is read from it or written to it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const DIR_MODE: u32 = 0o700;
pub const FILE_MODE: u32 = 0o600;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrivateError {
    #[error("{path} is not private: {reason}. SmartHunt keeps your notifications and messages there, so it will not use it; fix it (e.g. `chmod 700 {path}` as its owner) or choose another SMARTHUNT_DATA_DIR")]
    Unsafe { path: PathBuf, reason: String },
    #[error("cannot create {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

fn io_error(path: &Path) -> impl Fn(io::Error) -> PrivateError + '_ {
    move |e| PrivateError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

/// This process's files are its user's alone from the first write: the
/// umask becomes 077 (SQLite's journal files and the log files are created
/// by code that takes no mode). Call once at start, before any thread.
pub fn restrict_umask() {
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
}

/// Creates `dir` (and missing parents) 0700 if it is missing, then checks
/// that it is private: a directory owned by this user that neither group
/// nor others can write (they could have planted files in it). One that
/// others can only read, as older versions left it, is tightened.
pub fn ensure_dir(dir: &Path) -> Result<(), PrivateError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(io_error(dir))?;
    let unsafe_because = |reason: String| PrivateError::Unsafe {
        path: dir.to_owned(),
        reason,
    };
    // A link in a place others can write could be swapped for another
    // later: followed only where nobody else could have put it.
    let link = fs::symlink_metadata(dir).map_err(io_error(dir))?;
    if link.file_type().is_symlink() {
        let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
        let shared = parent
            .and_then(|p| fs::metadata(p).ok())
            .is_some_and(|m| m.mode() & 0o022 != 0);
        if shared {
            return Err(unsafe_because(
                "it is a symbolic link in a directory others can write to".into(),
            ));
        }
    }
    let meta = fs::metadata(dir).map_err(io_error(dir))?;
    if !meta.is_dir() {
        return Err(unsafe_because("it is not a directory".into()));
    }
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != me {
        return Err(unsafe_because(format!(
            "it belongs to another user (uid {}, you are {me})",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(unsafe_because(format!(
            "group or others can write to it (mode {mode:o})"
        )));
    }
    if mode & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(DIR_MODE)).map_err(io_error(dir))?;
    }
    Ok(())
}

/// Checks, without creating or changing anything, that `dir` is a real
/// directory (not a link) of this user's that nobody else can enter: the
/// runtime dir, before a socket goes into it.
pub fn check_private(dir: &Path) -> Result<(), PrivateError> {
    let unsafe_because = |reason: &str| PrivateError::Unsafe {
        path: dir.to_owned(),
        reason: reason.to_owned(),
    };
    let meta = fs::symlink_metadata(dir).map_err(io_error(dir))?;
    if !meta.is_dir() {
        return Err(unsafe_because("it is not a directory"));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(unsafe_because("it belongs to another user"));
    }
    if meta.mode() & 0o077 != 0 {
        return Err(unsafe_because("others can enter it"));
    }
    Ok(())
}

/// Makes everything below `dir` that this user owns private (directories
/// 0700, the rest 0600): what an older version or another umask left
/// readable. Symbolic links are neither followed nor changed. Best effort:
/// what cannot be changed is logged.
pub fn tighten_tree(dir: &Path) {
    let me = nix::unistd::geteuid().as_raw();
    let mut stack = vec![dir.to_owned()];
    while let Some(at) = stack.pop() {
        let Ok(entries) = fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.file_type().is_symlink() || meta.uid() != me {
                continue;
            }
            let want = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
            if meta.mode() & 0o077 != 0 && (meta.is_dir() || meta.is_file()) {
                // Changed through a descriptor opened without following a
                // link: a link swapped in since the look above is refused.
                let changed = OpenOptions::new()
                    .read(true)
                    .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
                    .open(&path)
                    .and_then(|f| {
                        if f.metadata()?.uid() != me {
                            return Ok(());
                        }
                        f.set_permissions(fs::Permissions::from_mode(want))
                    });
                if let Err(e) = changed {
                    tracing::warn!(path = %path.display(), error = %e, "cannot make it private");
                }
            } else if meta.mode() & 0o077 != 0 {
                // A socket or pipe: not opened; its dir is private anyway.
                let _ = fs::set_permissions(&path, fs::Permissions::from_mode(want));
            }
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
}

/// Opens `path` to read and write, created 0600 if missing (an existing
/// file is made 0600 too). A symbolic link in its place is refused, not
/// followed.
pub fn open_file(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    if file.metadata()?.mode() & 0o077 != 0 {
        file.set_permissions(fs::Permissions::from_mode(FILE_MODE))?;
    }
    Ok(file)
}

/// Creates `path` anew, 0600, for writing: whatever was there (a file, or
/// a link planted to make us overwrite its target) is removed first, never
/// followed.
pub fn create_new_file(path: &Path) -> io::Result<File> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_dir_is_0700_and_a_readable_one_is_tightened() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        ensure_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn a_link_where_others_can_write_is_refused_and_runtime_dirs_are_checked() {
        let shared = tempfile::tempdir().unwrap();
        fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o1777)).unwrap();
        let mine = tempfile::tempdir().unwrap();
        let planted = shared.path().join("smarthunt-desktop");
        std::os::unix::fs::symlink(mine.path(), &planted).unwrap();
        let err = ensure_dir(&planted).unwrap_err();
        assert!(
            matches!(&err, PrivateError::Unsafe { reason, .. } if reason.contains("link")),
            "{err}"
        );
        // A link of the user's own, in a dir only they can write: followed.
        let own_link = mine.path().join("data");
        let target = mine.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        std::os::unix::fs::symlink(&target, &own_link).unwrap();
        ensure_dir(&own_link).unwrap();
        assert!(
            check_private(shared.path()).is_err(),
            "others can enter /tmp-like dirs"
        );
        assert!(check_private(&planted).is_err(), "a link is no runtime dir");
        fs::set_permissions(mine.path(), fs::Permissions::from_mode(0o700)).unwrap();
        check_private(mine.path()).unwrap();
    }

    #[test]
    fn a_dir_others_can_write_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("shared");
        fs::create_dir(&dir).unwrap();
        for m in [0o777, 0o770, 0o1777] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(m)).unwrap();
            let err = ensure_dir(&dir).unwrap_err();
            assert!(
                matches!(&err, PrivateError::Unsafe { reason, .. } if reason.contains("write")),
                "{err}"
            );
        }
    }

    #[test]
    fn files_are_0600_and_planted_links_are_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let victim = root.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let planted = root.path().join("config.json.tmp");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(open_file(&planted).is_err(), "a link is refused");
        {
            use std::io::Write;
            create_new_file(&planted)
                .unwrap()
                .write_all(b"new")
                .unwrap();
        }
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode(&planted), 0o600);
        let db = root.path().join("store.db");
        fs::write(&db, b"").unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o644)).unwrap();
        open_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    #[test]
    fn tighten_tree_makes_what_is_ours_private_and_leaves_links() {
        let root = tempfile::tempdir().unwrap();
        let sub = root.path().join("accounts/x");
        fs::create_dir_all(&sub).unwrap();
        fs::set_permissions(&sub, fs::Permissions::from_mode(0o755)).unwrap();
        let file = sub.join("store.db");
        fs::write(&file, b"").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        fs::set_permissions(outside.path(), fs::Permissions::from_mode(0o644)).unwrap();
        std::os::unix::fs::symlink(outside.path(), sub.join("link")).unwrap();
        tighten_tree(root.path());
        assert_eq!(mode(&sub), 0o700);
        assert_eq!(mode(&file), 0o600);
        assert_eq!(
            mode(outside.path()),
            0o644,
            "a link's target is not ours to change"
        );
    }
}
