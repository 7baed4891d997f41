//! Progress reporting for downloads: the library calls a [`Reporter`]; the binary implements it
//! (an indicatif bar on a terminal, plain lines otherwise, nothing under `-q`).
//!
//! Every method has an empty default so that a caller implements only what it shows.
//! Calls come from the download worker threads, hence `Sync`.

/// Receives download events from [`fetch_packages`](super::fetch_packages).
pub trait Reporter: Sync {
    /// Before any download: how many distinct packages the lock pins and their total size.
    fn on_start(&self, _total_pkgs: usize, _total_bytes: u64) {}
    /// A package was found (and checked) in the cache: no download.
    fn on_cached(&self, _nevra: &str, _size: u64) {}
    /// A download of `nevra` from `url` begins (once per attempt).
    fn on_download_start(&self, _nevra: &str, _url: &str) {}
    /// `bytes` more bytes arrived (summed over all parallel downloads).
    fn on_progress(&self, _bytes: u64) {}
    /// An attempt failed after `bytes` had been reported: take them back off the total.
    fn on_discard(&self, _bytes: u64) {}
    /// An attempt failed and will be retried (on the same or the next mirror).
    fn on_retry(&self, _nevra: &str, _url: &str, _reason: &str) {}
    /// A package was downloaded, verified and stored in the cache.
    fn on_done(&self, _nevra: &str, _size: u64) {}
    /// All work has ended (successfully or not).
    fn on_finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {}
