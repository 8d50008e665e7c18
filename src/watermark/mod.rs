//! Provenance: a keyed watermark woven into sampling, and a detector that needs only the token
//! ids of a text and the key — never the model.
//!
//! - [`SecretKey`]: 32 secret bytes (from the OS, or derived from a passphrase) and their public
//!   [`KeyId`].
//! - [`Prf`]: the keyed pseudo-random function every scheme draws from, a pure function of
//!   (key, context ids, candidate id) built from BLAKE3-derived SipHash-2-4 subkeys, so the same
//!   text gets the same verdict on every CPU.
//! - Two [`Scheme`]s: the green list ([`GreenListParams`], KGW SelfHash family: a boost δ to the
//!   logits of "green" candidates) and a distortion-free one ([`DistortionFreeParams`]:
//!   exponential-minimum / Gumbel-max sampling keyed by the context, whose output distribution
//!   averaged over keys is the model's).
//! - [`KeyFile`]: the key, the scheme with all its parameters and the vocabulary it is bound to,
//!   as a TOML file created with mode 0600.
//! - [`Watermark`]: a key file made ready to use; it plugs into
//!   [`SamplerParams`](crate::sampling::SamplerParams) as one stage of the sampler chain.
//! - [`Detector`]: scores token ids and gives a [`Verdict`] with an exact p-value under the null
//!   hypothesis that the text was written without the key.
//!
//! - [`verdict_json`]: the verdict as the JSON object `retort verify --json` prints and the
//!   server's `/v1/verify` answers.
//!
//! This module knows token ids and logits; it never sees the model or the session.

mod detector;
mod distortion_free;
mod error;
mod green_list;
mod key;
mod key_file;
mod prf;
mod scheme;
mod stats;
mod verdict_report;
mod vocabulary;
#[allow(clippy::module_inception)]
mod watermark;

pub use detector::{Detector, DetectorParams, Verdict, WindowVerdict};
pub use error::WatermarkError;
pub use key::{KeyId, SecretKey, KEY_BYTES};
pub use key_file::{world_readable_warning, KeyFile, KEY_FILE_FORMAT, KEY_FILE_VERSION};
pub use prf::Prf;
pub use scheme::{DistortionFreeParams, GreenListParams, Scheme, SchemeKind, MAX_CONTEXT};
pub use stats::{binomial_sf, gamma_sf};
pub use verdict_report::{too_short_note, verdict_json, window_excerpt, VerifiedText};
pub use vocabulary::VocabularyId;
pub use watermark::Watermark;

pub(crate) use distortion_free::DistortionFree;
pub(crate) use green_list::GreenList;
