//! The plain records the GitHub module takes and returns.
//!
//! Kept apart from the HTTP code so the CLI and the report stage can name a repository
//! or serialize a comment outcome without touching the client.

use std::fmt;

use serde::Serialize;

use super::GithubError;

/// A repository, `owner/name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoRef {
    /// User or organisation login.
    pub owner: String,
    /// Repository name.
    pub name: String,
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// Parses `OWNER/NAME` (as in `$GITHUB_REPOSITORY`), refusing anything that could
/// not be a GitHub login or repository name.
pub fn parse_repo(s: &str) -> Result<RepoRef, GithubError> {
    let invalid = || GithubError::InvalidRepo {
        input: s.to_string(),
    };
    let (owner, name) = s.split_once('/').ok_or_else(invalid)?;
    let ok_part = |p: &str| {
        !p.is_empty()
            && p != "."
            && p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    if !ok_part(owner) || !ok_part(name) {
        return Err(invalid());
    }
    Ok(RepoRef {
        owner: owner.to_string(),
        name: name.to_string(),
    })
}

/// What [`super::GithubClient::upsert_sticky_comment`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CommentAction {
    /// No earlier report comment existed; one was posted.
    Created,
    /// The earlier report comment was edited in place.
    Updated,
}

/// The sticky comment after an upsert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommentOutcome {
    /// GitHub's comment id.
    pub id: u64,
    /// The comment's `html_url`, for logs and step outputs.
    pub url: String,
    /// Whether it was created or updated.
    pub action: CommentAction,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_repo_accepts_owner_slash_name() {
        let cases = [
            ("octo-org/models", "octo-org", "models"),
            ("a/b.c_d-e", "a", "b.c_d-e"),
            ("User1/.github", "User1", ".github"),
        ];
        for (input, owner, name) in cases {
            let r = parse_repo(input).unwrap();
            assert_eq!((r.owner.as_str(), r.name.as_str()), (owner, name));
            assert_eq!(r.to_string(), input);
        }
    }

    #[test]
    fn parse_repo_rejects_other_shapes() {
        for input in [
            "", "models", "/models", "octo/", "a/b/c", "a b/c", "a/..", "o/r?x",
        ] {
            let err = parse_repo(input).unwrap_err();
            assert!(matches!(err, GithubError::InvalidRepo { .. }), "{input}");
            assert!(err.to_string().contains("OWNER/NAME"));
        }
    }
}
