//! Speed, memory and quality measurement: what `retort bench`, `retort compare` and
//! `retort perplexity` print.

mod perplexity;

pub use perplexity::{perplexity, Perplexity, PerplexityParams, PerplexityProgress};
