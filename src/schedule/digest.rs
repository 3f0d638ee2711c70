//! What every schedule file format shares: its top-level keys (read without parsing a long
//! schedule), and the integrity digest it carries, so that a file edited by hand or damaged is
//! refused instead of replayed as if it were the failure that was recorded.

use std::io::{self, Write};

use serde::Serialize;

/// What an edited or damaged schedule file is told.
pub(crate) const EDITED: &str = "the file was edited or damaged: its digest does not match what \
     it holds. A schedule file is a record of one failure, not a test to edit; to check a fix, \
     replay the saved file unchanged (against the fixed config, or with the fixed program), or \
     run the fixed config again";

/// The digest of everything `record` holds, for a schedule file to carry as
/// `digest = "fnv1a128:..."`: FNV-1a (128 bits) of its canonical form (its JSON serialization,
/// streamed into the hash).
pub(crate) fn digest_of(record: &impl Serialize) -> String {
    struct Fnv(u128);
    impl Write for Fnv {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            for &b in buf {
                self.0 = (self.0 ^ u128::from(b)).wrapping_mul(FNV_PRIME);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut hash = Fnv(FNV_OFFSET);
    serde_json::to_writer(&mut hash, record).expect("a schedule file is plain data");
    format!("fnv1a128:{:032x}", hash.0)
}

/// FNV-1a's 128-bit offset basis and prime.
const FNV_OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
const FNV_PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;

/// The `digest = "..."` line of a schedule file's text (a top-level key, before any table):
/// its value, and where the line is (without its line break).
pub(crate) fn take_digest(text: &str) -> Option<(String, std::ops::Range<usize>)> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            return None;
        }
        if let Some(value) = trimmed
            .strip_prefix("digest")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
        {
            let digest: String = toml::from_str::<toml::Table>(&format!("d = {}", value.trim()))
                .ok()?
                .get("d")?
                .as_str()?
                .to_string();
            return Some((digest, offset..offset + line.trim_end_matches('\n').len()));
        }
        offset += line.len();
    }
    None
}

/// The text of a TOML file before its first table: its top-level keys, which say what the file
/// is without parsing the rest (a long schedule's millions of choices).
pub fn top_level(text: &str) -> &str {
    let end = text
        .match_indices('\n')
        .map(|(at, _)| at + 1)
        .find(|&at| text[at..].trim_start().starts_with('['))
        .unwrap_or(text.len());
    &text[..end]
}
