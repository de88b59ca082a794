//! Object storage for the command line: where `--out` or `--predictions` names a URL rather
//! than a path. With the `object-store` feature the URL is opened through `shopml-store`;
//! without it, a URL is refused with how to build it in, never taken for a local directory.

pub use shopml_core::features::is_url;

#[cfg(feature = "object-store")]
mod store {
    pub use shopml_store::{Repository, StoreError, block_on};

    pub fn open(url: &str) -> Result<Repository, StoreError> {
        Repository::open(url, &[])
    }
}

#[cfg(not(feature = "object-store"))]
mod store {
    /// This build has no object storage: every URL is refused, saying so.
    #[derive(Debug, thiserror::Error)]
    #[error(
        "{0}: this shopml-train was built without object storage; build it with `cargo build --release -p shopml-training --features object-store`"
    )]
    pub struct StoreError(String);

    pub enum Repository {}

    impl Repository {
        pub fn url(&self) -> &str {
            match *self {}
        }
    }

    pub fn open(url: &str) -> Result<Repository, StoreError> {
        Err(StoreError(shopml_core::features::redacted_url(url)))
    }
}

pub use store::{Repository, StoreError};

pub use shopml_core::features::redacted_url as redacted;

/// The repository at `url`, checked writable.
pub fn open_writable(url: &str) -> anyhow::Result<Repository> {
    let repository = store::open(url)?;
    #[cfg(feature = "object-store")]
    store::block_on(repository.check_writable())?;
    Ok(repository)
}

/// Publishes the bundle in `dir` as a new version of `repository`; its version.
pub fn publish(repository: &Repository, dir: &std::path::Path) -> anyhow::Result<String> {
    #[cfg(feature = "object-store")]
    return Ok(store::block_on(repository.publish(dir))?);
    #[cfg(not(feature = "object-store"))]
    {
        let _ = dir;
        match *repository {}
    }
}

/// Copies the finished prediction-log files at `url` into `dir`; how many.
pub fn download_log(url: &str, dir: &std::path::Path) -> anyhow::Result<usize> {
    let repository = store::open(url)?;
    #[cfg(feature = "object-store")]
    return Ok(store::block_on(
        repository.download_files(shopml_core::prediction_log::FILE_SUFFIX, dir),
    )?);
    #[cfg(not(feature = "object-store"))]
    {
        let _ = dir;
        match repository {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths_whatever_their_scheme() {
        for url in ["s3://b/p", "S3://b/p", "s3:/b", "gcs://b", "ftp://h/x", "file:///tmp/x"] {
            assert!(is_url(url), "{url}");
        }
        for path in ["out", "/tmp/out", "./s3", "C:", "a:b", "bundle:v1"] {
            assert!(!is_url(path), "{path}");
        }
    }

    #[test]
    fn credentials_in_a_url_are_left_out_of_messages() {
        assert_eq!(redacted("s3://key:secret@bucket/x?token=t"), "s3://bucket/x");
        assert_eq!(redacted("s3://bucket/x"), "s3://bucket/x");
        assert_eq!(redacted("s3://bucket/a@b"), "s3://bucket/a@b");
    }
}
