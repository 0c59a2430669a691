//! A disk that really fills up, for tests of what the app does when
//! storage fails.

/// A small tmpfs mounted over `dir` for the test's life: a disk that can
/// really fill up. Needs root (CI runs as root); unmounted on drop, so
/// declare it after whatever owns `dir`.
pub struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    pub fn mount(dir: &std::path::Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("the mount point can be made");
        let out = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .output()
            .expect("mount runs");
        assert!(
            out.status.success(),
            "this test fills a real disk: it mounts a tmpfs, which needs root ({})",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Self(dir.to_owned())
    }

    /// Writes a file until the disk is full; returns it.
    pub fn fill(&self) -> std::path::PathBuf {
        use std::io::Write;
        let filler = self.0.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
