//! The catalog's evaluation texts as pulled from PyPI: the book itself, without Project
//! Gutenberg's header or licence, byte for byte what the catalog's sha256 says.

mod support;

use retort::catalog::{read_text, Catalog};
use sha2::{Digest, Sha256};

#[test]
fn botchan_is_the_book_without_the_gutenberg_header_and_licence() {
    let path = support::text_path("botchan");
    let text = read_text(&path).unwrap();
    let entry = Catalog::builtin().unwrap();
    let entry = entry.require_text("botchan").unwrap();
    assert_eq!(text.len() as u64, entry.size);
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(digest, entry.sha256);
    assert!(text.starts_with("BOTCHAN (MASTER DARLING)\nBy The Late Mr. Kin-nosuke Natsume\n"));
    assert!(text.contains("So Kiyo's grave is in the Yogen temple at Kobinata.\n--(THE END)--\n"));
    // Header, transcriber credit, end line and licence are gone, and so are the CRs.
    for gone in ["Gutenberg", "Produced by", "LICENSE", "\r", "\u{feff}"] {
        assert!(!text.contains(gone), "{gone:?} is still in the text");
    }
    assert!(text.ends_with("[R: Rad]\n"));
}

#[test]
fn alice_is_the_canterbury_corpus_text_with_lf_line_ends() {
    let text = read_text(&support::text_path("alice")).unwrap();
    assert!(text.starts_with("                ALICE'S ADVENTURES IN WONDERLAND\n\n"));
    assert!(text.ends_with("                             THE END\n"));
    assert!(!text.contains('\r'));
    assert_eq!(text.lines().filter(|l| l.contains("CHAPTER")).count(), 12);
}
