//! Files and directories only derbes's user may read: the outbox, the destruction log, the
//! checkpoint file, the data directory.

use std::path::Path;

/// Creates `dir` (and its parents) if needed; a directory created here gets mode 0700.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Opens `path` for appending (creating it, and its directory, if needed) with mode 0600; a file
/// that existed with wider permissions is narrowed first.
pub fn append_private(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let f = opts.open(path)?;
    narrow(&f)?;
    Ok(f)
}

/// Writes `bytes` to a new file `path` with mode 0600, replacing one that was there.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        private_dir(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    narrow(&f)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn narrow(f: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if f.metadata()?.permissions().mode() & 0o077 != 0 {
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_made_here_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("a").join("b");
        private_dir(&inner).unwrap();
        assert_eq!(mode(&inner), 0o700);
        let log = inner.join("log");
        std::fs::write(&log, "x").unwrap();
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
        append_private(&log).unwrap();
        assert_eq!(mode(&log), 0o600, "a wider file is narrowed");
        write_private(&inner.join("m"), b"y").unwrap();
        assert_eq!(mode(&inner.join("m")), 0o600);
    }
}
