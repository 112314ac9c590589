//! The BERT encoder behind all-MiniLM-L6-v2, written for sentence embedding on a few CPU cores:
//! the texts of a batch are packed end to end (no padding: the token-wise layers run over real
//! tokens only, attention runs per text), the matrix products go to the `gemm` crate (the kernels
//! candle uses) into buffers kept for the whole pass, and bias, GELU, softmax, residual and
//! layer norm are fused into single passes over the rows. The output is the mean of each text's
//! token vectors, L2-normalised: sentence-transformers' pooling.
//!
//! It computes what candle's `BertModel` computed here before (same weights, exact GELU, post
//! layer norm), to within float rounding (2e-7 on SciFact abstracts); the tests in `local` compare
//! it with the published vectors.

use std::path::Path;

use gemm::Parallelism;
use rayon::prelude::*;
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

/// The fields of a Hugging Face BERT `config.json` the encoder uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BertConfig {
    /// Width of the token vectors.
    pub(crate) hidden_size: usize,
    /// Attention heads per layer.
    pub(crate) num_attention_heads: usize,
    /// Encoder layers.
    pub(crate) num_hidden_layers: usize,
    /// Width of the feed-forward layer.
    pub(crate) intermediate_size: usize,
    /// Longest input, in tokens.
    pub(crate) max_position_embeddings: usize,
    /// Epsilon of the layer norms.
    #[serde(default = "default_layer_norm_eps")]
    pub(crate) layer_norm_eps: f64,
    /// The activation: only the exact GELU is implemented.
    #[serde(default = "default_hidden_act")]
    pub(crate) hidden_act: String,
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_hidden_act() -> String {
    "gelu".to_owned()
}

/// The loaded weights.
pub(crate) struct Encoder {
    config: BertConfig,
    /// (vocabulary, hidden)
    word: Vec<f32>,
    /// (positions, hidden)
    position: Vec<f32>,
    /// Token type 0: every text is a single segment.
    segment: Vec<f32>,
    norm: Norm,
    layers: Vec<Layer>,
}

struct Norm {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// A dense layer, its weight transposed to (inputs, outputs), row-major.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
}

struct Layer {
    /// Query, key and value in one product: outputs are [q | k | v].
    qkv: Linear,
    attention_output: Linear,
    attention_norm: Norm,
    up: Linear,
    down: Linear,
    output_norm: Norm,
}

/// Buffers for one pass, sized for its tokens.
struct Buffers {
    hidden: Vec<f32>,
    qkv: Vec<f32>,
    context: Vec<f32>,
    attended: Vec<f32>,
    up: Vec<f32>,
}

impl Encoder {
    /// Reads the weights of `model.safetensors` (with or without the `bert.` prefix).
    pub(crate) fn load(config: BertConfig, weights: &Path) -> Result<Encoder, String> {
        if config.hidden_act != "gelu" {
            return Err(format!(
                "the activation `{}` is not supported (only `gelu`)",
                config.hidden_act
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err("hidden_size is not a multiple of num_attention_heads".into());
        }
        let bytes = std::fs::read(weights).map_err(|e| e.to_string())?;
        let tensors = SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
        let hidden = config.hidden_size;
        let read = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
            let tensor = tensors
                .tensor(name)
                .or_else(|_| tensors.tensor(&format!("bert.{name}")))
                .map_err(|_| format!("the tensor `{name}` is missing"))?;
            if tensor.dtype() != Dtype::F32 {
                return Err(format!("`{name}` is {:?}, not F32", tensor.dtype()));
            }
            if tensor.shape() != shape {
                return Err(format!(
                    "`{name}` has the shape {:?}, not {shape:?}",
                    tensor.shape()
                ));
            }
            Ok(tensor
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect())
        };
        let norm = |prefix: &str| -> Result<Norm, String> {
            Ok(Norm {
                weight: read(&format!("{prefix}.LayerNorm.weight"), &[hidden])?,
                bias: read(&format!("{prefix}.LayerNorm.bias"), &[hidden])?,
            })
        };
        // PyTorch keeps (outputs, inputs); the products here want (inputs, outputs).
        let linear =
            |prefixes: &[String], inputs: usize, outputs: usize| -> Result<Linear, String> {
                let total = outputs * prefixes.len();
                let mut weight = vec![0.0; inputs * total];
                let mut bias = Vec::with_capacity(total);
                for (part, prefix) in prefixes.iter().enumerate() {
                    let w = read(&format!("{prefix}.weight"), &[outputs, inputs])?;
                    for (out, row) in w.chunks_exact(inputs).enumerate() {
                        for (input, value) in row.iter().enumerate() {
                            weight[input * total + part * outputs + out] = *value;
                        }
                    }
                    bias.extend(read(&format!("{prefix}.bias"), &[outputs])?);
                }
                Ok(Linear {
                    weight,
                    bias,
                    inputs,
                    outputs: total,
                })
            };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for n in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{n}");
            let attention =
                ["query", "key", "value"].map(|part| format!("{p}.attention.self.{part}"));
            layers.push(Layer {
                qkv: linear(&attention, hidden, hidden)?,
                attention_output: linear(&[format!("{p}.attention.output.dense")], hidden, hidden)?,
                attention_norm: norm(&format!("{p}.attention.output"))?,
                up: linear(
                    &[format!("{p}.intermediate.dense")],
                    hidden,
                    config.intermediate_size,
                )?,
                down: linear(
                    &[format!("{p}.output.dense")],
                    config.intermediate_size,
                    hidden,
                )?,
                output_norm: norm(&format!("{p}.output"))?,
            });
        }
        let segments = tensors
            .tensor("embeddings.token_type_embeddings.weight")
            .or_else(|_| tensors.tensor("bert.embeddings.token_type_embeddings.weight"))
            .map(|t| t.shape().first().copied().unwrap_or(0))
            .unwrap_or(0);
        let vocabulary = tensors
            .tensor("embeddings.word_embeddings.weight")
            .or_else(|_| tensors.tensor("bert.embeddings.word_embeddings.weight"))
            .map(|t| t.shape().first().copied().unwrap_or(0))
            .map_err(|_| "the tensor `embeddings.word_embeddings.weight` is missing".to_owned())?;
        let mut segment = read(
            "embeddings.token_type_embeddings.weight",
            &[segments, hidden],
        )?;
        segment.truncate(hidden);
        if segment.len() != hidden {
            return Err("the token type embeddings are empty".into());
        }
        Ok(Encoder {
            word: read("embeddings.word_embeddings.weight", &[vocabulary, hidden])?,
            position: read(
                "embeddings.position_embeddings.weight",
                &[config.max_position_embeddings, hidden],
            )?,
            segment,
            norm: norm("embeddings")?,
            layers,
            config,
        })
    }

    /// The width of the vectors.
    pub(crate) fn dimension(&self) -> usize {
        self.config.hidden_size
    }

    /// The longest text it takes, in tokens.
    pub(crate) fn max_tokens(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// One unit vector per text of token ids (none may be longer than [`Encoder::max_tokens`],
    /// nor hold an id outside the vocabulary).
    pub(crate) fn embed(&self, texts: &[&[u32]]) -> Result<Vec<Vec<f32>>, String> {
        let hidden = self.config.hidden_size;
        let vocabulary = self.word.len() / hidden;
        for text in texts {
            if text.len() > self.max_tokens() {
                return Err(format!(
                    "a text of {} tokens is longer than the model's {}",
                    text.len(),
                    self.max_tokens()
                ));
            }
            if let Some(id) = text.iter().find(|&&id| id as usize >= vocabulary) {
                return Err(format!("the token id {id} is outside the vocabulary"));
            }
        }
        let lengths: Vec<usize> = texts.iter().map(|t| t.len()).collect();
        let tokens: usize = lengths.iter().sum();
        let mut buffers = Buffers {
            hidden: vec![0.0; tokens * hidden],
            qkv: vec![0.0; tokens * 3 * hidden],
            context: vec![0.0; tokens * hidden],
            attended: vec![0.0; tokens * hidden],
            up: vec![0.0; tokens * self.config.intermediate_size],
        };
        self.embeddings(texts, &mut buffers.hidden);
        for layer in &self.layers {
            self.layer(layer, &lengths, &mut buffers);
        }
        Ok(pool(&buffers.hidden, &lengths, hidden))
    }

    /// Word, position and segment embeddings, summed and normalised.
    fn embeddings(&self, texts: &[&[u32]], out: &mut [f32]) {
        let hidden = self.config.hidden_size;
        let mut rows = out.chunks_exact_mut(hidden);
        for text in texts {
            for (position, (&id, row)) in text.iter().zip(&mut rows).enumerate() {
                let word = &self.word[id as usize * hidden..][..hidden];
                let place = &self.position[position * hidden..][..hidden];
                for (((value, w), p), s) in row.iter_mut().zip(word).zip(place).zip(&self.segment) {
                    *value = w + p + s;
                }
                layer_norm(row, &self.norm, self.config.layer_norm_eps as f32);
            }
        }
    }

    fn layer(&self, layer: &Layer, lengths: &[usize], buffers: &mut Buffers) {
        let eps = self.config.layer_norm_eps as f32;
        let hidden = self.config.hidden_size;
        linear(&layer.qkv, &buffers.hidden, &mut buffers.qkv);
        add_bias(&mut buffers.qkv, &layer.qkv.bias);
        self.attention(&buffers.qkv, lengths, &mut buffers.context);
        linear(
            &layer.attention_output,
            &buffers.context,
            &mut buffers.attended,
        );
        // attended = LN(attended + bias + hidden)
        for (row, residual) in buffers
            .attended
            .chunks_exact_mut(hidden)
            .zip(buffers.hidden.chunks_exact(hidden))
        {
            add_norm(
                row,
                &layer.attention_output.bias,
                residual,
                &layer.attention_norm,
                eps,
            );
        }
        linear(&layer.up, &buffers.attended, &mut buffers.up);
        for row in buffers.up.chunks_exact_mut(layer.up.outputs) {
            gelu_with_bias(row, &layer.up.bias);
        }
        linear(&layer.down, &buffers.up, &mut buffers.hidden);
        // hidden = LN(hidden + bias + attended)
        for (row, residual) in buffers
            .hidden
            .chunks_exact_mut(hidden)
            .zip(buffers.attended.chunks_exact(hidden))
        {
            add_norm(row, &layer.down.bias, residual, &layer.output_norm, eps);
        }
    }

    /// Self-attention of each text over its own tokens: `qkv` holds [q | k | v] per token, the
    /// heads' outputs go side by side into `context`. Texts run in parallel.
    fn attention(&self, qkv: &[f32], lengths: &[usize], context: &mut [f32]) {
        let hidden = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let width = hidden / heads;
        let scale = 1.0 / (width as f32).sqrt();
        let mut jobs = Vec::with_capacity(lengths.len());
        let (mut qkv_rest, mut context_rest) = (qkv, context);
        for &length in lengths {
            let (q, rest) = qkv_rest.split_at(length * 3 * hidden);
            let (c, rest_c) = std::mem::take(&mut context_rest).split_at_mut(length * hidden);
            jobs.push((q, c, length));
            qkv_rest = rest;
            context_rest = rest_c;
        }
        jobs.into_par_iter().for_each(|(qkv, context, length)| {
            let mut scores = vec![0.0f32; length * length];
            let qkv_rows = Strided {
                data: qkv,
                rows: length,
                row_stride: 3 * hidden,
            };
            for head in 0..heads {
                let q = qkv_rows.columns(head * width, width);
                let k = qkv_rows.columns(hidden + head * width, width);
                let v = qkv_rows.columns(2 * hidden + head * width, width);
                // scores = scale · q kᵀ
                product(
                    Operand::Rows(q),
                    Operand::Transposed(k),
                    &mut scores,
                    (length, length, length),
                    scale,
                    Parallelism::None,
                );
                for row in scores.chunks_exact_mut(length) {
                    softmax(row);
                }
                // context[:, head] = scores v
                let out = StridedMut {
                    data: &mut context[head * width..],
                    rows: length,
                    cols: width,
                    row_stride: hidden,
                };
                product_into(
                    Operand::Rows(
                        Strided {
                            data: &scores,
                            rows: length,
                            row_stride: length,
                        }
                        .columns(0, length),
                    ),
                    Operand::Rows(v),
                    out,
                    1.0,
                    Parallelism::None,
                );
            }
        });
    }
}

/// Rows of a row-major matrix with a row stride.
#[derive(Clone, Copy)]
struct Strided<'a> {
    data: &'a [f32],
    rows: usize,
    row_stride: usize,
}

/// A block of columns of a [`Strided`] matrix.
#[derive(Clone, Copy)]
struct Columns<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

impl<'a> Strided<'a> {
    fn columns(&self, first: usize, cols: usize) -> Columns<'a> {
        Columns {
            data: &self.data[first..],
            rows: self.rows,
            cols,
            row_stride: self.row_stride,
        }
    }
}

/// A matrix operand: as stored, or transposed.
enum Operand<'a> {
    Rows(Columns<'a>),
    Transposed(Columns<'a>),
}

struct StridedMut<'a> {
    data: &'a mut [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
}

/// `dst` (m×n, contiguous) = scale · lhs × rhs, for `(m, n, row stride of dst)`.
fn product(
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    dst: &mut [f32],
    (rows, cols, row_stride): (usize, usize, usize),
    scale: f32,
    parallelism: Parallelism,
) {
    product_into(
        lhs,
        rhs,
        StridedMut {
            data: dst,
            rows,
            cols,
            row_stride,
        },
        scale,
        parallelism,
    );
}

/// The view of an operand as (rows, cols, row stride, column stride).
fn view<'a>(operand: &Operand<'a>) -> (&'a [f32], usize, usize, usize, usize) {
    match operand {
        Operand::Rows(m) => (m.data, m.rows, m.cols, m.row_stride, 1),
        Operand::Transposed(m) => (m.data, m.cols, m.rows, 1, m.row_stride),
    }
}

/// Whether every element of a (rows × cols) view with these strides lies inside `len`.
fn fits(len: usize, rows: usize, cols: usize, row_stride: usize, col_stride: usize) -> bool {
    rows == 0
        || cols == 0
        || (rows - 1)
            .checked_mul(row_stride)
            .zip((cols - 1).checked_mul(col_stride))
            .and_then(|(a, b)| a.checked_add(b))
            .is_some_and(|last| last < len)
}

/// `dst` = scale · lhs × rhs.
///
/// # Panics
/// When the shapes do not agree or a view reaches past its slice: checked here, so that the
/// unchecked product below only touches memory inside the slices.
fn product_into(
    lhs: Operand<'_>,
    rhs: Operand<'_>,
    dst: StridedMut<'_>,
    scale: f32,
    parallelism: Parallelism,
) {
    let (lhs, m, k, lhs_rs, lhs_cs) = view(&lhs);
    let (rhs, k2, n, rhs_rs, rhs_cs) = view(&rhs);
    assert!(
        k == k2 && dst.rows == m && dst.cols == n,
        "shapes do not agree"
    );
    assert!(
        fits(lhs.len(), m, k, lhs_rs, lhs_cs)
            && fits(rhs.len(), k, n, rhs_rs, rhs_cs)
            && fits(dst.data.len(), m, n, dst.row_stride, 1),
        "a matrix view reaches past its buffer"
    );
    let stride = |s: usize| isize::try_from(s).unwrap_or(isize::MAX);
    // SAFETY: the assertions above guarantee that every element gemm reads (lhs: m×k, rhs: k×n)
    // or writes (dst: m×n) with these strides lies inside its slice; `dst` is borrowed mutably,
    // so nothing else reads or writes it meanwhile; `read_dst` is false, so its old contents
    // are never read.
    #[allow(unsafe_code)]
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.data.as_mut_ptr(),
            1,
            stride(dst.row_stride),
            false,
            lhs.as_ptr(),
            stride(lhs_cs),
            stride(lhs_rs),
            rhs.as_ptr(),
            stride(rhs_cs),
            stride(rhs_rs),
            0.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// `out` = `input` × the layer's weight (without its bias), on every core.
fn linear(layer: &Linear, input: &[f32], out: &mut [f32]) {
    let rows = input.len() / layer.inputs;
    let threads = rayon::current_num_threads();
    product(
        Operand::Rows(
            Strided {
                data: input,
                rows,
                row_stride: layer.inputs,
            }
            .columns(0, layer.inputs),
        ),
        Operand::Rows(
            Strided {
                data: &layer.weight,
                rows: layer.inputs,
                row_stride: layer.outputs,
            }
            .columns(0, layer.outputs),
        ),
        &mut out[..rows * layer.outputs],
        (rows, layer.outputs, layer.outputs),
        1.0,
        if threads > 1 {
            Parallelism::Rayon(threads)
        } else {
            Parallelism::None
        },
    );
}

fn add_bias(values: &mut [f32], bias: &[f32]) {
    for row in values.chunks_exact_mut(bias.len()) {
        for (value, b) in row.iter_mut().zip(bias) {
            *value += b;
        }
    }
}

/// `row` = LN(`row` + `bias` + `residual`).
fn add_norm(row: &mut [f32], bias: &[f32], residual: &[f32], norm: &Norm, eps: f32) {
    for ((value, b), r) in row.iter_mut().zip(bias).zip(residual) {
        *value += b + r;
    }
    layer_norm(row, norm, eps);
}

/// Layer norm of one row, in place.
fn layer_norm(row: &mut [f32], norm: &Norm, eps: f32) {
    let count = row.len() as f32;
    let mean = lane_sum(row) / count;
    let mut squares = [0.0f32; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, value) in squares.iter_mut().zip(chunk) {
            *lane += (value - mean) * (value - mean);
        }
    }
    let rest: f32 = chunks
        .remainder()
        .iter()
        .map(|v| (v - mean) * (v - mean))
        .sum();
    let variance = (squares.iter().sum::<f32>() + rest) / count;
    let inverse = 1.0 / (variance + eps).sqrt();
    for ((value, w), b) in row.iter_mut().zip(&norm.weight).zip(&norm.bias) {
        *value = (*value - mean) * inverse * w + b;
    }
}

/// Independent partial sums, so that the loops vectorise.
const LANES: usize = 16;

fn lane_sum(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = values.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, value) in lanes.iter_mut().zip(chunk) {
            *lane += value;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// GELU (the exact one, through erf) of `row` + `bias`, in place.
fn gelu_with_bias(row: &mut [f32], bias: &[f32]) {
    for (value, b) in row.iter_mut().zip(bias) {
        let x = *value + b;
        *value = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
    }
}

/// Softmax of one row, in place.
fn softmax(row: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, value) in lanes.iter_mut().zip(chunk) {
            *lane = if *value > *lane { *value } else { *lane };
        }
    }
    let max = chunks
        .remainder()
        .iter()
        .chain(&lanes)
        .fold(f32::NEG_INFINITY, |a, &b| a.max(b));
    for value in row.iter_mut() {
        *value = exp(*value - max);
    }
    let inverse = 1.0 / lane_sum(row);
    for value in row.iter_mut() {
        *value *= inverse;
    }
}

/// The mean of each text's token vectors, L2-normalised.
fn pool(hidden_states: &[f32], lengths: &[usize], hidden: usize) -> Vec<Vec<f32>> {
    let mut rows = hidden_states.chunks_exact(hidden);
    lengths
        .iter()
        .map(|&length| {
            let mut mean = vec![0.0f32; hidden];
            for row in rows.by_ref().take(length) {
                for (sum, value) in mean.iter_mut().zip(row) {
                    *sum += value;
                }
            }
            let count = length.max(1) as f32;
            mean.iter_mut().for_each(|v| *v /= count);
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            mean.iter_mut().for_each(|v| *v /= norm);
            mean
        })
        .collect()
}

/// erf for f32: the rational approximation of Eigen and XLA (clamped to ±4, where erf is ±1 in
/// f32), within a few ulp and free of branches, so that it vectorises.
#[inline(always)]
fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = x2 * -2.726_142_4e-10 + 2.770_681_5e-8;
    p = x2 * p - 2.101_024e-6;
    p = x2 * p - 5.692_506_2e-5;
    p = x2 * p - 7.349_906_4e-4;
    p = x2 * p - 2.954_6e-3;
    p = x2 * p - 1.609_603_3e-2;
    let mut q = x2 * -1.456_607_15e-5 - 2.133_740_5e-4;
    q = x2 * q - 1.682_827e-3;
    q = x2 * q - 7.373_329_3e-3;
    q = x2 * q - 1.426_473_9e-2;
    x * p / q
}

/// e^x for f32 (Cephes' expf: 2^n times a polynomial on [-ln 2 / 2, ln 2 / 2]), without branches
/// so that it vectorises; inputs below -87 give about 1e-38 instead of 0, which a softmax cannot
/// tell apart.
#[inline(always)]
fn exp(x: f32) -> f32 {
    // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // x - n ln 2, with ln 2 in two parts.
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_66;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // n is an integer in [-126, 127]: 2^n from its exponent bits.
    let bits = ((n as i32 + 127) as u32) << 23;
    e * f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_and_exp_are_within_a_few_ulp() {
        for step in -6000..=6000 {
            let x = f64::from(step as f32 / 1000.0);
            let approx = f64::from(erf(x as f32));
            // erf is 1 to within 2e-8 from 4 on.
            let exact = if x.abs() <= 4.0 {
                series_erf(x)
            } else {
                x.signum()
            };
            assert!(
                (approx - exact).abs() < 4e-7,
                "erf({x}) = {approx}, not {exact}"
            );
        }
        for step in -8700..=8800 {
            let x = step as f64 / 100.0;
            let approx = f64::from(exp(x as f32));
            let exact = (x as f32 as f64).exp();
            assert!(
                ((approx - exact) / exact).abs() < 4e-7,
                "exp({x}) = {approx}, not {exact}"
            );
        }
    }

    /// erf in f64 by its Taylor series (enough terms for |x| <= 4).
    fn series_erf(x: f64) -> f64 {
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }
}
