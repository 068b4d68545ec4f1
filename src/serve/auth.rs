//! Bearer-token checking. The token is read from a file (never from the command
//! line, where `ps` shows it) and compared in constant time: both sides are
//! hashed with SHA-256 first, so neither the content nor the length of the
//! expected token shows in how long a comparison takes.

use std::path::Path;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("cannot read token file {path}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file holds no token.
    #[error("token file {0} is empty")]
    Empty(String),
    /// The token has characters an HTTP header cannot carry.
    #[error("token file {0}: the token must be printable ASCII without spaces")]
    Invalid(String),
}

/// The expected token, kept as its digest.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// The token in `text` (surrounding whitespace, such as a final newline, is
    /// not part of it).
    pub fn new(text: &str, origin: &str) -> Result<Token, TokenError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(TokenError::Empty(origin.to_string()));
        }
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::Invalid(origin.to_string()));
        }
        Ok(Token(Sha256::digest(t.as_bytes()).into()))
    }

    /// Reads the token from `path`.
    pub fn read(path: &Path) -> Result<Token, TokenError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: origin.clone(),
            source,
        })?;
        Token::new(&text, &origin)
    }
}

/// Whether `given` is the expected token, in time independent of both.
pub fn token_matches(expected: &Token, given: &str) -> bool {
    let digest: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    bool::from(expected.0.ct_eq(&digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let t = Token::new("s3cret-token\n", "test").unwrap();
        assert!(token_matches(&t, "s3cret-token"));
        assert!(!token_matches(&t, "s3cret-toke"));
        assert!(!token_matches(&t, "s3cret-token "));
        assert!(!token_matches(&t, ""));
        assert!(!token_matches(&t, "S3CRET-TOKEN"));
    }

    #[test]
    fn empty_or_unprintable_tokens_are_refused() {
        assert!(matches!(Token::new(" \n", "f"), Err(TokenError::Empty(_))));
        assert!(matches!(
            Token::new("a b", "f"),
            Err(TokenError::Invalid(_))
        ));
        assert!(matches!(Token::new("é", "f"), Err(TokenError::Invalid(_))));
    }
}
