//! The model: hyper-parameters from metadata, typed weight views into the map, and ONE
//! transformer block parameterised by an [`ArchSpec`] (one small file per family in `arch/`).
//!
//! A [`Model`] is immutable and `Send + Sync`: any number of sessions may share it. All
//! per-conversation state (KV cache, scratch) lives in [`crate::session::Session`].

mod arch;
mod attention;
mod batch_rows;
mod block;
mod error;
mod hparams;
mod logits;
mod matmul;
mod norm;
mod output_head;
mod packed;
mod packed_cache;
mod rope;
mod scratch;
mod spec;
mod traffic;
mod weights;

use std::path::{Path, PathBuf};

pub(crate) use attention::AttnBuffers;
pub use error::ModelError;
pub use hparams::HyperParams;
pub(crate) use logits::log_prob;
pub(crate) use output_head::HeadScratch;
pub use output_head::OutputHead;
pub use packed::PackedRows;
pub use packed_cache::PackedOrigin;
pub(crate) use scratch::Scratch;
pub use spec::{Activation, ArchSpec, LayerAttention, RopeStyle};
pub use weights::{LayerWeights, Matrix, Vector, Weights};

use crate::gguf::GgufFile;

/// How a model is loaded.
#[derive(Clone, Debug)]
pub struct LoadParams {
    /// Repack the layer matrices into row-interleaved stripes (faster products, same numbers)
    /// and give the file's pages under them back, so the weights stay resident once. Only a
    /// memory-mapped file ([`Model::open`]) is repacked; a caller's buffer is left as it is.
    pub repack: bool,
    /// A directory where the repacked copy is kept as a file, so that the next load of the same
    /// file maps it instead of repacking (faster, and the copy lives in the page cache, shared
    /// between processes): [`PackedOrigin`]. `None` (the default) keeps nothing. The command
    /// line uses `$RETORT_HOME/packed` (`~/.cache/retort/packed`).
    pub packed_dir: Option<PathBuf>,
}

impl Default for LoadParams {
    fn default() -> Self {
        LoadParams {
            repack: true,
            packed_dir: None,
        }
    }
}

/// A loaded model: the mapped file, its hyper-parameters, its family spec and weight views.
pub struct Model {
    file: GgufFile,
    /// Shape of the network.
    pub hparams: HyperParams,
    /// Family options for the shared block.
    pub spec: ArchSpec,
    /// Where every weight lies in the file.
    pub weights: Weights,
    /// Bytes of layer matrices held in the row-interleaved (x8) layout; 0 when repacking was
    /// turned off, the file is not mapped, or the active kernel tier has no x8 form of the types.
    repacked_bytes: usize,
    /// Where the repacked copy came from.
    packed_origin: PackedOrigin,
    /// Norms of the output head's rows, computed on first use by a precise head.
    head_norms: std::sync::OnceLock<Vec<f32>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("hparams", &self.hparams)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Maps and validates the GGUF file at `path` and builds the model (with the default
    /// [`LoadParams`]: layer matrices repacked).
    pub fn open(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        Model::open_with(path, &LoadParams::default())
    }

    /// [`Model::open`] with `params`.
    pub fn open_with(path: impl AsRef<Path>, params: &LoadParams) -> Result<Model, ModelError> {
        Model::from_gguf_with(GgufFile::open(path)?, params)
    }

    /// Builds the model from an opened file: hyper-parameters, family spec, and every weight's
    /// name, type and shape checked (default [`LoadParams`]).
    pub fn from_gguf(file: GgufFile) -> Result<Model, ModelError> {
        Model::from_gguf_with(file, &LoadParams::default())
    }

    /// [`Model::from_gguf`] with `params`.
    pub fn from_gguf_with(file: GgufFile, params: &LoadParams) -> Result<Model, ModelError> {
        let embd = file.require_tensor("token_embd.weight")?;
        let n_vocab = embd.shape.get(1).copied().unwrap_or(0) as usize;
        let hparams = HyperParams::from_metadata(file.metadata(), n_vocab)?;
        if hparams.n_head % hparams.n_head_kv.max(1) != 0 || hparams.n_head_kv == 0 {
            return Err(ModelError::Unsupported(format!(
                "{} query heads cannot share {} KV heads evenly",
                hparams.n_head, hparams.n_head_kv
            )));
        }
        if hparams.n_rot > hparams.head_dim
            || hparams.n_rot % 2 != 0
            || hparams.n_rot / 2 > rope::MAX_PAIRS
        {
            return Err(ModelError::Unsupported(format!(
                "rotary dimension {} with head dimension {}",
                hparams.n_rot, hparams.head_dim
            )));
        }
        let spec = arch::spec_for(file.metadata(), &hparams)?;
        let mut weights = weights::WeightLoader { file: &file }.load(&hparams, &spec)?;
        // Page sizes, before the weights are first read. The output head is streamed whole at
        // every step: huge pages. Repacked matrices' file pages are given back, and their
        // norms and biases between them read at every step: small pages, or each read would
        // map 2 MiB back in. Unrepacked, every matrix is streamed from the file.
        let repack = params.repack && file.is_mapped();
        let whole = 0..file.bytes().len();
        if repack {
            let head = &weights.output;
            file.avoid_huge_pages(whole);
            file.prefer_huge_pages(head.offset..head.offset + head.bytes);
        } else {
            file.prefer_huge_pages(whole);
        }
        let (repacked_bytes, packed_origin) = if repack {
            packed::repack_layers(&file, &mut weights, params.packed_dir.as_deref())?
        } else {
            (0, PackedOrigin::None)
        };
        Ok(Model {
            file,
            hparams,
            spec,
            weights,
            repacked_bytes,
            packed_origin,
            head_norms: std::sync::OnceLock::new(),
        })
    }

    /// The Euclidean norm of every row of the output head (computed once, by the first
    /// session's workers, then shared by every session).
    pub(crate) fn head_row_norms(
        &self,
        pool: &mut crate::worker_pool::WorkerPool,
    ) -> Result<&[f32], ModelError> {
        if let Some(n) = self.head_norms.get() {
            return Ok(n);
        }
        let norms =
            output_head::row_norms(pool, self.data(&self.weights.output), &self.weights.output)?;
        // A racing session may have stored equal norms first; either copy is the same.
        Ok(self.head_norms.get_or_init(|| norms))
    }

    /// Bytes of layer matrices repacked at load into the row-interleaved layout (0: none, the
    /// products read the file's layout).
    pub fn repacked_bytes(&self) -> usize {
        self.repacked_bytes
    }

    /// Where the repacked copy came from: repacked at this load (and kept for the next, or not),
    /// or mapped from the copy an earlier load kept.
    pub fn packed_origin(&self) -> &PackedOrigin {
        &self.packed_origin
    }

    /// The underlying GGUF file (metadata, tokenizer vocabulary).
    pub fn gguf(&self) -> &GgufFile {
        &self.file
    }

    /// The whole mapped file; weight views index into it.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.file.bytes()
    }

    /// The bytes of a weight matrix.
    pub(crate) fn data(&self, m: &Matrix) -> &[u8] {
        &self.bytes()[m.offset..m.offset + m.bytes]
    }

    /// An F32 vector (alignment and length checked at load).
    pub(crate) fn vector(&self, v: &Vector) -> &[f32] {
        bytemuck::cast_slice(&self.bytes()[v.offset..v.offset + 4 * v.len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn model_is_send_and_sync() {
        assert_send_sync::<Model>();
    }
}
