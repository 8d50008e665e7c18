//! A session that remembers the token ids its KV cache holds, so that a prompt sharing a prefix
//! with what it ran before is prefilled only past the shared part: the next turn of a chat
//! (`retort chat`), or a request whose messages extend a slot's previous conversation
//! (`retort serve`).
//!
//! Each turn's prompt is the whole conversation rendered by the chat template. The model's
//! end-of-turn token ends generation without being decoded, so the cache never holds it; the
//! next rendering spells it out after the reply, and it is prefilled with the new turn. A
//! reply the tokenizer would split differently than the model generated it simply shortens the
//! shared prefix: the result is always what a fresh session would compute for the same prompt.

use std::ops::ControlFlow;

use crate::error::Error;
use crate::generate::{generate_after, GenerateParams, Generation};
use crate::model::ModelError;
use crate::session::Session;
use crate::tokenizer::Tokenizer;

/// A [`Session`] and the ids of the positions its cache holds.
pub struct Conversation<'m> {
    session: Session<'m>,
    /// The token at each position `0..session.pos()`.
    held: Vec<u32>,
}

/// One generation through a [`Conversation`].
#[derive(Clone, Debug)]
pub struct Turn {
    /// The generation; its `prompt_ids` and `prompt_time` are those of the part that was run.
    pub generation: Generation,
    /// Prompt tokens found in the cache and not run again.
    pub reused: usize,
}

impl<'m> Conversation<'m> {
    /// Wraps `session`, forgetting whatever it held.
    pub fn new(mut session: Session<'m>) -> Conversation<'m> {
        session.reset();
        Conversation {
            session,
            held: Vec::new(),
        }
    }

    /// The session (sizes, threads, memory).
    pub fn session(&self) -> &Session<'m> {
        &self.session
    }

    /// The ids the cache holds, position by position.
    pub fn held(&self) -> &[u32] {
        &self.held
    }

    /// Forgets everything held.
    pub fn reset(&mut self) {
        self.session.reset();
        self.held.clear();
    }

    /// How many leading tokens of `prompt` the cache holds already.
    pub fn common_prefix(&self, prompt: &[u32]) -> usize {
        self.held
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count()
    }

    /// Generates after `prompt` (the whole context: for a chat, every turn so far rendered by
    /// the template), running only the part the cache does not hold. At least the last prompt
    /// token is always run, since its logits pick the first token. If the cache cannot be
    /// rewound to the shared prefix (a sliding-window ring overwrote what it needs), the whole
    /// prompt is run. On error the conversation is reset.
    pub fn generate(
        &mut self,
        tok: &Tokenizer,
        prompt: &[u32],
        params: &GenerateParams,
        on_text: impl FnMut(&str) -> ControlFlow<()>,
    ) -> Result<Turn, Error> {
        if prompt.is_empty() {
            return Err(ModelError::BadParam("empty prompt".into()).into());
        }
        let shared = self.common_prefix(prompt).min(prompt.len() - 1);
        let kept = self.session.truncate(shared);
        self.held.truncate(kept);
        let result = generate_after(
            &mut self.session,
            tok,
            &self.held,
            &prompt[kept..],
            params,
            on_text,
        );
        let generation = match result {
            Ok(g) => g,
            Err(e) => {
                self.reset();
                return Err(e);
            }
        };
        self.held.extend_from_slice(&prompt[kept..]);
        // Every generated token but the last was decoded into the cache.
        let decoded = self.session.pos() - self.held.len();
        self.held
            .extend_from_slice(&generation.generated_ids[..decoded]);
        debug_assert_eq!(self.held.len(), self.session.pos());
        Ok(Turn {
            generation,
            reused: kept,
        })
    }
}
