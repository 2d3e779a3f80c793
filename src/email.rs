//! Email addresses as account names (issue 11 §4): the one normalization applied before an
//! address is stored or compared, so that two spellings of one address (case, width,
//! composition) can never be two accounts, and mixed-script look-alikes are refused.
//!
//! The rule ([`normalize`]):
//! - Surrounding white space is ignored. The address (before and after normalization) has at
//!   most 254 bytes (RFC 5321 §4.5.3.1.3 path limit, less the angle brackets).
//! - It splits at its **last** `@` into a local part and a domain, neither empty.
//! - **Local part**: the PRECIS `UsernameCaseMapped` profile (RFC 8265 §3.3): fullwidth and
//!   halfwidth forms are width-mapped to their ordinary forms (`ａｌｉｃｅ` is `alice`), then
//!   case-folded (`Alice` is `alice`), then NFC (an NFD `é` is the NFC `é`). Code points the
//!   PRECIS IdentifierClass disallows are refused: spaces, control characters, zero-width and
//!   other format characters, bidirectional controls, symbols and punctuation outside ASCII;
//!   the Bidi Rule (RFC 5893) applies. An `@` left after width mapping is refused.
//! - **Domain**: IDNA (UTS #46 with STD3 rules and DNS lengths, as the `idna` crate applies
//!   them): checked in its ASCII form and kept in its **Unicode** form, lower-cased and NFC, so
//!   `Bücher.Example`, `bücher.example` and `xn--bcher-kva.example` are one domain and the
//!   `email` claim stays readable.
//!
//! RFC 5321 leaves local parts case-sensitive; in practice no provider treats `Alice` and
//! `alice` as two mailboxes, and treating them as two accounts is the confusion this avoids.
//! - The local part is then a **dot-atom** (RFC 5322 §3.4.1, with RFC 6531's non-ASCII
//!   characters): no quotes, angle brackets, brackets, parentheses, commas, semicolons, colons or
//!   backslashes; no leading, trailing or doubled dot. Quoted local parts (`"a b"@example.com`)
//!   are not accepted.
//! - **One script per part** (UTS #39 §5.1, crate `unicode-security`): a local part or domain
//!   mixing scripts, such as a Cyrillic `а` among Latin letters, is refused, so the commonest
//!   look-alike of an existing address cannot be registered. Look-alikes written wholly in one
//!   other script are not detected.
//! - The domain is a name, not an address literal (`alice@127.0.0.1`, `alice@[::1]`).

use std::fmt;

use precis_core::profile::PrecisFastInvocation;
use precis_profiles::UsernameCaseMapped;

/// The longest address we accept, in bytes (RFC 5321 §4.5.3.1.3: a path is at most 256
/// octets including the angle brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// A normalized email address: what is stored in `users.email_normalized` and compared.
///
/// Shape: `local@domain`, the local part per PRECIS UsernameCaseMapped, the domain in Unicode
/// lower case; at most [`MAX_EMAIL_BYTES`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// The normalized address.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalized address, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a string is not an acceptable email address. The messages are for a person (an operator
/// at the CLI) and name the offending code point; they never claim an account exists.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Longer than [`MAX_EMAIL_BYTES`].
    #[error("the address is longer than {MAX_EMAIL_BYTES} bytes (RFC 5321 §4.5.3.1.3)")]
    TooLong,
    /// No `@`, or nothing before or after it.
    #[error("not an email address: expected local-part@domain")]
    Malformed,
    /// The local part holds a code point the rule refuses.
    #[error(
        "the part before @ contains {0}, which an account name may not contain (PRECIS \
         UsernameCaseMapped, RFC 8265 §3.3)"
    )]
    BadCharacter(CodePoint),
    /// The local part breaks the PRECIS rules as a whole (the Bidi Rule, for instance).
    #[error(
        "the part before @ is not a valid account name (PRECIS UsernameCaseMapped, RFC 8265 \
         §3.3: mixed writing directions, or nothing left after mapping)"
    )]
    BadLocalPart,
    /// The domain is not a valid (internationalized) domain name.
    #[error("the domain is not a valid domain name (IDNA, UTS #46)")]
    BadDomain,
    /// The local part is not a dot-atom (quotes, brackets, a leading, trailing or doubled dot…).
    #[error(
        "the part before @ must be letters, digits and !#$%&'*+-/=?^_`{{|}}~ separated by single \
         dots (RFC 5322 §3.4.1); quotes, brackets and a leading, trailing or doubled dot are \
         not accepted"
    )]
    NotDotAtom,
    /// The domain is an IP address, not a name.
    #[error("the domain must be a name, not an IP address")]
    AddressLiteral,
    /// A part mixes writing systems (a Cyrillic letter among Latin ones, say).
    #[error(
        "the {0} mixes writing systems (e.g. a Cyrillic or Greek letter among Latin ones), \
         which makes it look like another address (UTS #39)"
    )]
    MixedScript(&'static str),
}

/// Whether `local` (already PRECIS-mapped) is a dot-atom: RFC 5322 §3.4.1 atext (with RFC 6531
/// §3.3's non-ASCII characters) in runs separated by single dots.
fn is_dot_atom(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty()
            && atom.chars().all(|c| {
                !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
            })
    })
}

/// A code point named in an error: `U+200B (a zero-width character)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CodePoint(pub u32);

impl fmt::Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U+{:04X}", self.0)?;
        let Some(c) = char::from_u32(self.0) else {
            return Ok(());
        };
        let kind = if is_bidi_control(c) {
            "a bidirectional control character"
        } else if matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}') {
            "a zero-width character"
        } else if c.is_control() {
            "a control character"
        } else if c.is_whitespace() {
            "a space"
        } else {
            return write!(f, " ({c:?})");
        };
        write!(f, " ({kind})")
    }
}

/// Bidirectional formatting characters that can make text display in another order than it is
/// stored (the "Trojan Source" set): U+202A–U+202E embeddings and overrides, U+2066–U+2069
/// isolates, U+200E/U+200F marks, U+061C ARABIC LETTER MARK.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// Normalizes an email address by the module's rule.
///
/// Errors: [`EmailError`], saying which rule the address breaks.
pub fn normalize(input: &str) -> Result<Email, EmailError> {
    let input = input.trim();
    // Bounded work and bounded keys: nothing longer is looked at (issue 11 §1).
    if input.len() > MAX_EMAIL_BYTES {
        return Err(EmailError::TooLong);
    }
    let (local, domain) = input.rsplit_once('@').ok_or(EmailError::Malformed)?;
    if local.is_empty() || domain.is_empty() {
        return Err(EmailError::Malformed);
    }
    let local = UsernameCaseMapped::enforce(local).map_err(|e| match e {
        precis_core::Error::BadCodepoint(info) => EmailError::BadCharacter(CodePoint(info.cp)),
        _ => EmailError::BadLocalPart,
    })?;
    // A fullwidth `＠` becomes `@` under width mapping: the result would not split the same way.
    if local.contains('@') {
        return Err(EmailError::BadCharacter(CodePoint(u32::from('\u{FF20}'))));
    }
    if !is_dot_atom(&local) {
        return Err(EmailError::NotDotAtom);
    }
    if domain.starts_with('[') || domain.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(EmailError::AddressLiteral);
    }
    use unicode_security::MixedScript;
    if !local.is_single_script() {
        return Err(EmailError::MixedScript("part before @"));
    }
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| EmailError::BadDomain)?;
    let (unicode, checked) = idna::domain_to_unicode(&ascii);
    checked.map_err(|_| EmailError::BadDomain)?;
    // Each label may be in its own script (`bücher.example` is fine); one label may not mix.
    if unicode.split('.').any(|label| !label.is_single_script()) {
        return Err(EmailError::MixedScript("domain"));
    }
    if unicode.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(EmailError::AddressLiteral);
    }
    let normalized = format!("{local}@{unicode}");
    if normalized.len() > MAX_EMAIL_BYTES {
        return Err(EmailError::TooLong);
    }
    Ok(Email(normalized))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_parts_are_dot_atoms_and_domains_are_names() {
        for bad in [
            "\"alice\"@example.com",
            "<alice>@example.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "a(b)@example.com",
            "a,b@example.com",
        ] {
            assert_eq!(n(bad), Err(EmailError::NotDotAtom), "{bad}");
        }
        assert_eq!(n("alice@127.0.0.1"), Err(EmailError::AddressLiteral));
        assert_eq!(n("alice@[::1]"), Err(EmailError::AddressLiteral));
        assert!(n("o'neil+tag@example.com").is_ok());
        assert!(n("a.b-c_d@example.com").is_ok());
    }

    #[test]
    fn mixed_script_look_alikes_are_refused() {
        // A Cyrillic а (U+0430) among Latin letters, in either part.
        assert_eq!(
            n("\u{430}lice@example.com"),
            Err(EmailError::MixedScript("part before @"))
        );
        assert_eq!(
            n("alice@ex\u{430}mple.com"),
            Err(EmailError::MixedScript("domain"))
        );
        // One script per part is fine, whatever it is.
        assert!(n("\u{442}\u{435}\u{441}\u{442}@example.com").is_ok());
        assert!(n("taro@bücher.example").is_ok());
        assert!(n("山田@example.jp").is_ok());
    }

    fn n(s: &str) -> Result<String, EmailError> {
        normalize(s).map(Email::into_string)
    }

    #[test]
    fn case_is_folded_in_both_parts() {
        assert_eq!(n("Alice@Example.COM").as_deref(), Ok("alice@example.com"));
        assert_eq!(
            n("  alice@example.com\n").as_deref(),
            Ok("alice@example.com")
        );
        assert_eq!(n("ÉLODIE@example.com").as_deref(), Ok("élodie@example.com"));
    }

    #[test]
    fn nfc_and_nfd_twins_are_one_address() {
        let nfc = "jos\u{e9}@example.com";
        let nfd = "jose\u{301}@example.com";
        assert_ne!(nfc, nfd);
        assert_eq!(n(nfc), n(nfd));
        assert_eq!(n(nfd).as_deref(), Ok(nfc));
    }

    #[test]
    fn fullwidth_letters_are_width_mapped() {
        assert_eq!(
            n("\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}@example.com").as_deref(),
            Ok("alice@example.com")
        );
        assert_eq!(
            n("alice@\u{FF45}xample.com").as_deref(),
            Ok("alice@example.com")
        );
        // A fullwidth at sign cannot smuggle a second `@` into the local part.
        assert_eq!(
            n("a\u{FF20}b@example.com"),
            Err(EmailError::BadCharacter(CodePoint(0xFF20)))
        );
    }

    #[test]
    fn zero_width_and_bidi_characters_are_refused_and_named() {
        for (input, cp) in [
            ("al\u{200B}ice@example.com", 0x200B),
            ("al\u{200D}ice@example.com", 0x200D),
            ("al\u{FEFF}ice@example.com", 0xFEFF),
            ("al\u{202E}ice@example.com", 0x202E),
            ("al ice@example.com", 0x20),
            ("al\u{7}ice@example.com", 0x7),
        ] {
            assert_eq!(
                n(input),
                Err(EmailError::BadCharacter(CodePoint(cp))),
                "{input:?}"
            );
        }
        let message = n("al\u{200B}ice@example.com")
            .expect_err("refused")
            .to_string();
        assert!(
            message.contains("U+200B (a zero-width character)"),
            "{message}"
        );
        let message = n("al\u{202E}ice@example.com")
            .expect_err("refused")
            .to_string();
        assert!(message.contains("bidirectional"), "{message}");
    }

    #[test]
    fn idn_domains_compare_in_one_form() {
        let u = n("user@B\u{fc}cher.Example");
        assert_eq!(u.as_deref(), Ok("user@b\u{fc}cher.example"));
        assert_eq!(n("user@xn--bcher-kva.example"), u);
        assert_eq!(n("user@exa mple.com"), Err(EmailError::BadDomain));
        assert_eq!(n("user@-example.com"), Err(EmailError::BadDomain));
        assert_eq!(n("user@example..com"), Err(EmailError::BadDomain));
    }

    #[test]
    fn longer_than_254_bytes_is_refused() {
        let local = "a".repeat(64);
        let ok = format!("{local}@{}.com", "b".repeat(50));
        assert!(n(&ok).is_ok());
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert_eq!(n(&long), Err(EmailError::TooLong));
        assert_eq!(n(&"a@b".repeat(30_000)), Err(EmailError::TooLong));
        // 254 bytes is still fine.
        let edge = format!("{}@example.com", "a".repeat(242));
        assert_eq!(edge.len(), 254);
        assert!(n(&edge).is_ok());
    }

    #[test]
    fn malformed_addresses_are_refused() {
        for bad in ["", "alice", "@example.com", "alice@", "   "] {
            assert_eq!(n(bad), Err(EmailError::Malformed), "{bad:?}");
        }
        assert_eq!(
            n("first.last+tag@example.com").as_deref(),
            Ok("first.last+tag@example.com")
        );
    }
}
