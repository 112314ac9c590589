//! The model's tokenizer, rebuilt from the GGUF file's own metadata (a GPT-2 style byte-level
//! BPE), so the model file is all that is needed: no tokenizer.json beside it.

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::Tokenizer;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;

use crate::LoadError;

/// GGUF's token type for control tokens (`<|im_start|>`, `<|endoftext|>`, …).
const CONTROL: i32 = 3;

/// Encoding text into token ids, and each id's bytes for decoding and for constrained output.
pub(crate) struct Tokens {
    tokenizer: Tokenizer,
    /// The bytes each token stands for; empty for control tokens, which never appear in text.
    bytes: Vec<Vec<u8>>,
    /// End of a turn (ChatML's `<|im_end|>`), where generation stops.
    pub end_of_turn: u32,
    /// Start of a turn (`<|im_start|>`).
    pub start_of_turn: u32,
    /// End of text, also a stop.
    pub end_of_text: Option<u32>,
}

impl Tokens {
    /// Reads the vocabulary and merges of a `gpt2`-model GGUF file.
    pub(crate) fn from_gguf(content: &Content) -> Result<Tokens, LoadError> {
        let model = string(content, "tokenizer.ggml.model")?;
        if model != "gpt2" {
            return Err(LoadError::Unsupported(format!(
                "tokenizer `{model}` (only byte-level BPE, `gpt2`, is supported)"
            )));
        }
        let tokens = strings(content, "tokenizer.ggml.tokens")?;
        let merges = strings(content, "tokenizer.ggml.merges")?;
        let types: Vec<i32> = match content.metadata.get("tokenizer.ggml.token_type") {
            Some(Value::Array(values)) => values.iter().map(|v| v.to_i32().unwrap_or(1)).collect(),
            _ => Vec::new(),
        };
        let id_of = |name: &str| {
            tokens
                .iter()
                .position(|t| t == name)
                .and_then(|i| u32::try_from(i).ok())
        };
        let start_of_turn = id_of("<|im_start|>");
        let end_of_turn = id_of("<|im_end|>");
        let (Some(start_of_turn), Some(end_of_turn)) = (start_of_turn, end_of_turn) else {
            return Err(LoadError::Unsupported(
                "a vocabulary without ChatML's <|im_start|> and <|im_end|> (only ChatML chat models are supported)".into(),
            ));
        };
        let end_of_text = id_of("<|endoftext|>");

        let unicode_to_byte = unicode_to_byte();
        let bytes = tokens
            .iter()
            .enumerate()
            .map(|(id, token)| {
                if types.get(id) == Some(&CONTROL) {
                    return Vec::new();
                }
                token
                    .chars()
                    .map(&unicode_to_byte)
                    .collect::<Option<Vec<u8>>>()
                    .unwrap_or_default()
            })
            .collect();

        let vocab: Vocab = tokens
            .iter()
            .enumerate()
            .filter_map(|(id, token)| Some((token.clone(), u32::try_from(id).ok()?)))
            .collect();
        let merges = merges
            .iter()
            .map(|merge| {
                merge
                    .split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| {
                        LoadError::Unsupported(format!("a BPE merge without a space: `{merge}`"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let bpe = BPE::builder()
            .vocab_and_merges(vocab, merges)
            .build()
            .map_err(|e| LoadError::Unsupported(format!("the tokenizer does not build: {e}")))?;
        let mut tokenizer = Tokenizer::new(bpe);
        // llama.cpp's `smollm` and `gpt2` pre-tokenizers: digits one by one (smollm), then GPT-2's
        // split into words, numbers, punctuation and spaces, over bytes mapped to characters.
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
        Ok(Tokens {
            tokenizer,
            bytes,
            end_of_turn,
            start_of_turn,
            end_of_text,
        })
    }

    /// The ids of `text` as ordinary text: a `<|im_end|>` typed by a user stays text.
    pub(crate) fn encode(&self, text: &str) -> Result<Vec<u32>, String> {
        self.tokenizer
            .encode(text, false)
            .map(|encoding| encoding.get_ids().to_vec())
            .map_err(|e| format!("the prompt could not be tokenized: {e}"))
    }

    /// The bytes a token stands for (empty for control tokens).
    pub(crate) fn bytes(&self, id: u32) -> &[u8] {
        self.bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }

    /// Whether `id` ends the answer.
    pub(crate) fn is_stop(&self, id: u32) -> bool {
        id == self.end_of_turn || Some(id) == self.end_of_text
    }
}

/// GPT-2's mapping from bytes to printable characters, reversed: printable Latin-1 bytes stand
/// for themselves and the others (controls, space, …) were shifted to U+0100 and up, in order.
fn unicode_to_byte() -> impl Fn(char) -> Option<u8> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table = std::collections::HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for byte in 0..=255u8 {
        let c = if printable(byte) {
            char::from(byte)
        } else {
            shifted += 1;
            char::from_u32(255 + shifted).unwrap_or(char::REPLACEMENT_CHARACTER)
        };
        table.insert(c, byte);
    }
    move |c| table.get(&c).copied()
}

fn string<'a>(content: &'a Content, key: &str) -> Result<&'a str, LoadError> {
    match content.metadata.get(key) {
        Some(Value::String(s)) => Ok(s),
        _ => Err(LoadError::Unsupported(format!(
            "no `{key}` in the model file"
        ))),
    }
}

fn strings(content: &Content, key: &str) -> Result<Vec<String>, LoadError> {
    match content.metadata.get(key) {
        Some(Value::Array(values)) => values
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(LoadError::Unsupported(format!(
                    "`{key}` holds something other than text"
                ))),
            })
            .collect(),
        _ => Err(LoadError::Unsupported(format!(
            "no `{key}` in the model file"
        ))),
    }
}
