//! How an SMS body travels: its encoding (GSM-7 or UCS-2), how many segments it is billed as,
//! and whether it fits Twilio's limit, worked out before sending so the agent and the person
//! approving see it.

use schemars::JsonSchema;
use serde::Serialize;

/// Twilio refuses bodies longer than this many characters (error 21617).
pub const MAX_BODY_CHARS: usize = 1600;

/// The GSM 03.38 basic character set (one septet each).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (an escape plus one septet: two each).
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The encoding of an SMS body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub enum Encoding {
    /// 7-bit GSM alphabet: 160 characters in one segment, 153 per segment when split.
    #[serde(rename = "GSM-7")]
    Gsm7,
    /// 16-bit UCS-2 (any character outside GSM-7, e.g. emoji or Cyrillic): 70 per segment, 67
    /// when split.
    #[serde(rename = "UCS-2")]
    Ucs2,
}

/// What a body costs to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Segments {
    /// GSM-7 or UCS-2
    pub encoding: Encoding,
    /// Characters in the body
    pub characters: usize,
    /// Segments the carrier bills (each is one SMS on the invoice)
    pub segments: usize,
    /// Characters that force UCS-2, at most 5, so the agent can replace them to halve the cost
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_gsm_characters: Vec<String>,
}

impl Segments {
    /// Works out the encoding and segments of `body`.
    pub fn of(body: &str) -> Segments {
        let characters = body.chars().count();
        let mut septets = 0usize;
        let mut non_gsm = Vec::new();
        for c in body.chars() {
            if GSM_BASIC.contains(c) {
                septets += 1;
            } else if GSM_EXTENDED.contains(c) {
                septets += 2;
            } else {
                let shown = c.to_string();
                if non_gsm.len() < 5 && !non_gsm.contains(&shown) {
                    non_gsm.push(shown);
                }
            }
        }
        let (encoding, units, single, part) = if !non_gsm.is_empty() {
            // UCS-2 counts UTF-16 code units: an emoji outside the BMP takes two.
            (Encoding::Ucs2, body.encode_utf16().count(), 70, 67)
        } else {
            (Encoding::Gsm7, septets, 160, 153)
        };
        let segments = if units <= single {
            1
        } else {
            units.div_ceil(part)
        };
        Segments {
            encoding,
            characters,
            segments,
            non_gsm_characters: non_gsm,
        }
    }

    /// Whether Twilio accepts a body this long.
    pub fn fits(&self) -> bool {
        self.characters <= MAX_BODY_CHARS
    }

    /// "2 segments, GSM-7, 200 characters".
    pub fn describe(&self) -> String {
        let plural = if self.segments == 1 { "" } else { "s" };
        let encoding = match self.encoding {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        };
        format!(
            "{} segment{plural}, {encoding}, {} characters",
            self.segments, self.characters
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_and_segments_follow_the_gsm_rules() {
        // (body, encoding, segments)
        let cases = [
            ("Hello", Encoding::Gsm7, 1),
            ("", Encoding::Gsm7, 1),
            (&"a".repeat(160) as &str, Encoding::Gsm7, 1),
            (&"a".repeat(161), Encoding::Gsm7, 2),
            (&"a".repeat(306), Encoding::Gsm7, 2),
            (&"a".repeat(307), Encoding::Gsm7, 3),
            // The euro sign is an escape plus a septet: 80 of them fill one segment.
            (&"€".repeat(80), Encoding::Gsm7, 1),
            (&"€".repeat(81), Encoding::Gsm7, 2),
            ("Señor, ¿qué tal? 12 € al mes", Encoding::Gsm7, 1),
            ("Está pagado: 12 €", Encoding::Ucs2, 1),
            (&"ж".repeat(70), Encoding::Ucs2, 1),
            (&"ж".repeat(71), Encoding::Ucs2, 2),
            // One emoji is two UTF-16 units.
            (&format!("{}👍", "a".repeat(68)), Encoding::Ucs2, 1),
            (&format!("{}👍", "a".repeat(69)), Encoding::Ucs2, 2),
        ];
        for (body, encoding, segments) in cases {
            let counted = Segments::of(body);
            assert_eq!(
                (counted.encoding, counted.segments),
                (encoding, segments),
                "{body:?}"
            );
        }
        // "é" is in GSM-7 but "Ó" is not; the examples name the characters to replace.
        let spanish = Segments::of("Hola, ¿qué tal? Ópera");
        assert_eq!(spanish.non_gsm_characters, vec!["Ó".to_owned()]);
        assert!(!Segments::of(&"a".repeat(1601)).fits());
        assert_eq!(
            Segments::of(&"a".repeat(200)).describe(),
            "2 segments, GSM-7, 200 characters"
        );
    }
}
