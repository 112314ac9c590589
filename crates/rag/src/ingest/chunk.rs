//! Cutting a document into chunks that fit an embedding model and keep their citations.
//!
//! Structure first: a chunk never spans two sections (a heading or a page starts one), and blocks
//! are packed whole while they fit. A block too long for one chunk is cut at the coarsest
//! boundary that works: paragraphs, then sentences, then lines, then words; only a single "word"
//! longer than a chunk (a long URL or base64 run) is cut between characters. Each chunk after the
//! first of a section starts with the tail of the previous one (the overlap), cut at a sentence or
//! word start, so a fact split across the boundary is still found whole in one of them.
//!
//! Lengths are in characters (Unicode scalar values), not bytes, so limits mean the same in every
//! language. The output depends only on the document and the configuration.

use std::ops::Range;

use mcp_common::{ConfigError, Env};

use super::read::{Block, Document};
use crate::model::Position;

/// How chunks are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkConfig {
    /// Most characters in a chunk, overlap included (`RAG_CHUNK_CHARS`).
    pub max_chars: usize,
    /// Characters of the previous chunk's tail repeated at the start of the next one in the same
    /// section (`RAG_CHUNK_OVERLAP`).
    pub overlap_chars: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        ChunkConfig {
            max_chars: 1000,
            overlap_chars: 150,
        }
    }
}

/// Bounds of `RAG_CHUNK_CHARS`: below 100 a chunk holds too little to embed meaningfully; above
/// 100,000 it exceeds every embedding model's context.
const CHARS_RANGE: std::ops::RangeInclusive<usize> = 100..=100_000;

impl ChunkConfig {
    /// Reads `RAG_CHUNK_CHARS` and `RAG_CHUNK_OVERLAP`.
    pub fn from_env(env: &Env) -> Result<ChunkConfig, ConfigError> {
        let defaults = ChunkConfig::default();
        let expected_chars = format!(
            "a number of characters between {} and {}",
            CHARS_RANGE.start(),
            CHARS_RANGE.end()
        );
        let max_chars = env
            .parse::<usize>("RAG_CHUNK_CHARS", &expected_chars)?
            .unwrap_or(defaults.max_chars);
        if !CHARS_RANGE.contains(&max_chars) {
            return Err(ConfigError::Invalid {
                variable: "RAG_CHUNK_CHARS".into(),
                expected: expected_chars,
                found: Some(max_chars.to_string()),
            });
        }
        let expected_overlap = format!(
            "a number of characters from 0 to half of RAG_CHUNK_CHARS ({})",
            max_chars / 2
        );
        let overlap_chars = env
            .parse::<usize>("RAG_CHUNK_OVERLAP", &expected_overlap)?
            .unwrap_or(defaults.overlap_chars.min(max_chars / 2));
        if overlap_chars > max_chars / 2 {
            return Err(ConfigError::Invalid {
                variable: "RAG_CHUNK_OVERLAP".into(),
                expected: expected_overlap,
                found: Some(overlap_chars.to_string()),
            });
        }
        Ok(ChunkConfig {
            max_chars,
            overlap_chars,
        })
    }
}

/// A chunk before it has an id: its text and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkDraft {
    /// The text, at most `max_chars` characters.
    pub text: String,
    /// Page, heading path, lines, and the 0-based index of the chunk within its source.
    pub position: Position,
}

/// Cuts `document` into chunks, in reading order.
pub fn chunk(document: &Document, config: &ChunkConfig) -> Vec<ChunkDraft> {
    // Guard against configurations built by hand: a chunk of at least one character, and an
    // overlap that leaves room for new text.
    let max = config.max_chars.max(1);
    let overlap = config.overlap_chars.min(max / 2);
    let mut drafts = Vec::new();
    let blocks = &document.blocks;
    let mut start = 0;
    while start < blocks.len() {
        let section = blocks.get(start).map(|block| block.section);
        let end = blocks
            .iter()
            .skip(start)
            .position(|block| Some(block.section) != section)
            .map_or(blocks.len(), |offset| start + offset);
        let Some(section_blocks) = blocks.get(start..end) else {
            break;
        };
        Section::new(section_blocks, max, overlap).cut(&mut drafts);
        start = end;
    }
    drafts
}

/// A non-empty, whitespace-trimmed byte range of one block's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    block: usize,
    start: usize,
    end: usize,
}

struct Section<'a> {
    blocks: &'a [Block],
    /// Byte offsets of the newlines of each block, for line numbers.
    newlines: Vec<Vec<usize>>,
    max: usize,
    overlap: usize,
}

/// The separator between text of two blocks in one chunk.
const BLOCK_SEPARATOR: &str = "\n\n";
const SEPARATOR_CHARS: usize = 2;

impl<'a> Section<'a> {
    fn new(blocks: &'a [Block], max: usize, overlap: usize) -> Section<'a> {
        let newlines = blocks
            .iter()
            .map(|block| block.text.match_indices('\n').map(|(at, _)| at).collect())
            .collect();
        Section {
            blocks,
            newlines,
            max,
            overlap,
        }
    }

    fn text(&self, block: usize, range: Range<usize>) -> &'a str {
        self.blocks
            .get(block)
            .and_then(|b| b.text.get(range))
            .unwrap_or_default()
    }

    fn cut(&self, drafts: &mut Vec<ChunkDraft>) {
        let mut pieces = Vec::new();
        for (index, block) in self.blocks.iter().enumerate() {
            split(
                &block.text,
                index,
                0..block.text.len(),
                Level::Paragraph,
                self.max,
                &mut pieces,
            );
        }
        let mut current: Vec<Piece> = Vec::new();
        let mut length = 0;
        for piece in pieces {
            let mut added = self.added(&current, piece);
            if !current.is_empty() && length + added > self.max {
                self.emit(&current, drafts);
                let piece_chars = self
                    .text(piece.block, piece.start..piece.end)
                    .chars()
                    .count();
                let gap = match current.last() {
                    Some(last) if last.block == piece.block => self
                        .text(piece.block, last.end..piece.start)
                        .chars()
                        .count(),
                    _ => SEPARATOR_CHARS,
                };
                let budget = self.overlap.min(self.max.saturating_sub(piece_chars + gap));
                current = self.tail(&current, budget);
                length = self.length(&current);
                added = self.added(&current, piece);
                if length + added > self.max {
                    current.clear();
                    length = 0;
                    added = piece_chars;
                }
            }
            current.push(piece);
            length += added;
        }
        if !current.is_empty() {
            self.emit(&current, drafts);
        }
    }

    /// Characters `piece` adds to a chunk made of `current`.
    fn added(&self, current: &[Piece], piece: Piece) -> usize {
        match current.last() {
            // Same block: the text between them comes along verbatim.
            Some(last) if last.block == piece.block => {
                self.text(piece.block, last.end..piece.end).chars().count()
            }
            Some(_) => {
                SEPARATOR_CHARS
                    + self
                        .text(piece.block, piece.start..piece.end)
                        .chars()
                        .count()
            }
            None => self
                .text(piece.block, piece.start..piece.end)
                .chars()
                .count(),
        }
    }

    /// Runs of consecutive pieces from one block, as (block, byte range).
    fn groups(pieces: &[Piece]) -> Vec<(usize, Range<usize>)> {
        let mut groups: Vec<(usize, Range<usize>)> = Vec::new();
        for piece in pieces {
            match groups.last_mut() {
                Some((block, range)) if *block == piece.block => range.end = piece.end,
                _ => groups.push((piece.block, piece.start..piece.end)),
            }
        }
        groups
    }

    fn length(&self, pieces: &[Piece]) -> usize {
        let groups = Section::groups(pieces);
        let text: usize = groups
            .iter()
            .map(|(block, range)| self.text(*block, range.clone()).chars().count())
            .sum();
        text + SEPARATOR_CHARS * groups.len().saturating_sub(1)
    }

    fn render(&self, pieces: &[Piece]) -> String {
        Section::groups(pieces)
            .into_iter()
            .map(|(block, range)| self.text(block, range))
            .collect::<Vec<_>>()
            .join(BLOCK_SEPARATOR)
    }

    /// The end of `pieces` to repeat at the start of the next chunk: at most `budget` characters
    /// and at most half of the chunk (more would make neighbours near-duplicates), starting at a
    /// sentence start when one gives a useful overlap, else at a word start.
    fn tail(&self, pieces: &[Piece], budget: usize) -> Vec<Piece> {
        let budget = budget.min(self.length(pieces) / 2);
        if budget == 0 {
            return Vec::new();
        }
        let groups = Section::groups(pieces);
        let mut used = 0;
        // The byte where the tail starts, in the block of the group it starts in.
        let mut cut: Option<(usize, usize)> = None;
        for (block, range) in groups.iter().rev() {
            let separator = if cut.is_some() { SEPARATOR_CHARS } else { 0 };
            let chars = self.text(*block, range.clone()).chars().count();
            if used + separator + chars <= budget {
                used += separator + chars;
                cut = Some((*block, range.start));
                continue;
            }
            let room = budget.saturating_sub(used + separator);
            if let Some(at) = tail_start(self.text(*block, range.clone()), room) {
                cut = Some((*block, range.start + at));
            }
            break;
        }
        let Some((block, at)) = cut else {
            return Vec::new();
        };
        let Some(first) = pieces
            .iter()
            .position(|piece| piece.block == block && piece.end > at)
        else {
            return Vec::new();
        };
        let mut tail: Vec<Piece> = pieces.get(first..).unwrap_or_default().to_vec();
        if let Some(head) = tail.first_mut() {
            head.start = head.start.max(at);
        }
        tail
    }

    fn emit(&self, pieces: &[Piece], drafts: &mut Vec<ChunkDraft>) {
        let (Some(first), Some(last)) = (pieces.first(), pieces.last()) else {
            return;
        };
        let Some(block) = self.blocks.get(first.block) else {
            return;
        };
        let index = u32::try_from(drafts.len()).unwrap_or(u32::MAX);
        drafts.push(ChunkDraft {
            text: self.render(pieces),
            position: Position {
                page: block.page,
                heading: block.heading.clone(),
                line_start: Some(self.line(first.block, first.start)),
                line_end: Some(self.line(last.block, last.end.saturating_sub(1))),
                index,
            },
        });
    }

    /// The source line of a byte of a block: its line plus the newlines before the byte, within
    /// the block's range (for formats whose text lines are not source lines).
    fn line(&self, block: usize, offset: usize) -> u32 {
        let Some(b) = self.blocks.get(block) else {
            return 0;
        };
        let before = self
            .newlines
            .get(block)
            .map_or(0, |newlines| newlines.partition_point(|at| *at < offset));
        let line = b
            .line_start
            .saturating_add(u32::try_from(before).unwrap_or(u32::MAX));
        line.min(b.line_end.max(b.line_start))
    }
}

/// Where a tail of at most `room` characters of `text` may start: a sentence start if that keeps
/// at least a third of the room, else the first word start that fits.
fn tail_start(text: &str, room: usize) -> Option<usize> {
    if room == 0 {
        return None;
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let from = chars.len().saturating_sub(room);
    let mut word = None;
    let mut previous = chars.get(from.wrapping_sub(1)).map(|(_, c)| *c);
    for &(at, c) in chars.get(from..).unwrap_or_default() {
        let starts_word = !c.is_whitespace() && previous.is_none_or(char::is_whitespace);
        previous = Some(c);
        if !starts_word {
            continue;
        }
        if sentence_starts_at(text, at) {
            let kept = text.get(at..).map_or(0, |rest| rest.chars().count());
            if kept * 3 >= room {
                return Some(at);
            }
        }
        word.get_or_insert(at);
    }
    word
}

/// Whether the word at `at` follows a sentence end (`.`, `!`, `?` and closers, then space).
fn sentence_starts_at(text: &str, at: usize) -> bool {
    let before = text.get(..at).unwrap_or_default().trim_end();
    let before = before.trim_end_matches(CLOSERS);
    at == 0 || before.ends_with(TERMINATORS) || before.is_empty()
}

const TERMINATORS: &[char] = &['.', '!', '?', '…', '。', '！', '？'];
const CLOSERS: &[char] = &['"', '\'', ')', ']', '”', '’', '»'];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Paragraph,
    Sentence,
    Line,
    Word,
    Character,
}

impl Level {
    fn finer(self) -> Level {
        match self {
            Level::Paragraph => Level::Sentence,
            Level::Sentence => Level::Line,
            Level::Line => Level::Word,
            Level::Word | Level::Character => Level::Character,
        }
    }
}

/// Appends the pieces of `text[range]`: whole if it fits, else cut at `level` and finer.
fn split(
    text: &str,
    block: usize,
    range: Range<usize>,
    level: Level,
    max: usize,
    out: &mut Vec<Piece>,
) {
    let Some(range) = trim(text, range) else {
        return;
    };
    let Some(slice) = text.get(range.clone()) else {
        return;
    };
    if slice.chars().count() <= max {
        out.push(Piece {
            block,
            start: range.start,
            end: range.end,
        });
        return;
    }
    if level == Level::Character {
        // A single "word" longer than a chunk: no boundary is left, so cut between characters.
        let mut start = range.start;
        let mut count = 0;
        for (at, _) in slice.char_indices() {
            if count == max {
                out.push(Piece {
                    block,
                    start,
                    end: range.start + at,
                });
                start = range.start + at;
                count = 0;
            }
            count += 1;
        }
        out.push(Piece {
            block,
            start,
            end: range.end,
        });
        return;
    }
    let parts = boundaries(slice, level);
    if parts.len() <= 1 {
        split(text, block, range, level.finer(), max, out);
        return;
    }
    for part in parts {
        let part = range.start + part.start..range.start + part.end;
        split(text, block, part, level.finer(), max, out);
    }
}

/// `range` without leading and trailing whitespace, or `None` if nothing is left.
fn trim(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let slice = text.get(range.clone())?;
    let start = range.start + (slice.len() - slice.trim_start().len());
    let end = range.end - (slice.len() - slice.trim_end().len());
    (start < end).then_some(start..end)
}

/// Cuts `slice` at `level`'s boundaries into consecutive ranges covering it.
fn boundaries(slice: &str, level: Level) -> Vec<Range<usize>> {
    let mut cuts = vec![0];
    match level {
        Level::Paragraph => {
            // After a newline that is followed by a blank line.
            let mut previous_blank_end = None;
            let mut offset = 0;
            for line in slice.split_inclusive('\n') {
                if line.trim().is_empty() {
                    previous_blank_end = Some(offset + line.len());
                } else if let Some(end) = previous_blank_end.take() {
                    cuts.push(end);
                }
                offset += line.len();
            }
        }
        Level::Sentence => {
            let mut chars = slice.char_indices().peekable();
            while let Some((_, c)) = chars.next() {
                if !TERMINATORS.contains(&c) {
                    continue;
                }
                while let Some(&(_, next)) = chars.peek() {
                    if TERMINATORS.contains(&next) || CLOSERS.contains(&next) {
                        chars.next();
                    } else {
                        break;
                    }
                }
                match chars.peek() {
                    Some(&(at, next)) if next.is_whitespace() => cuts.push(at),
                    // Chinese and Japanese put no space after a full stop.
                    Some(&(at, _)) if matches!(c, '。' | '！' | '？') => cuts.push(at),
                    _ => {}
                }
            }
        }
        Level::Line => cuts.extend(slice.match_indices('\n').map(|(at, _)| at + 1)),
        Level::Word => {
            let mut previous_space = false;
            for (at, c) in slice.char_indices() {
                let space = c.is_whitespace();
                if previous_space && !space {
                    cuts.push(at);
                }
                previous_space = space;
            }
        }
        Level::Character => {}
    }
    cuts.dedup();
    cuts.push(slice.len());
    cuts.windows(2)
        .filter_map(|pair| match pair {
            [start, end] if start < end => Some(*start..*end),
            _ => None,
        })
        .collect()
}
