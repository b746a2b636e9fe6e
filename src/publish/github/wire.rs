//! GitHub's wire formats: the JSON we read back and the `Link` header for pages.
//!
//! Only the fields the sticky comment needs are decoded, so an API that adds fields
//! (or a GitHub Enterprise Server that lacks some) does not break the report.

use serde::Deserialize;

use super::retry::Throttle;
use super::{CommentAction, CommentOutcome, GithubError};

/// `user` of a comment, or the answer to `GET /user`.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiUser {
    pub login: String,
}

/// An issue comment as the REST API returns it.
#[derive(Debug, Deserialize)]
pub(crate) struct ApiComment {
    pub id: u64,
    pub html_url: String,
    pub body: Option<String>,
    pub user: Option<ApiUser>,
}

impl ApiComment {
    /// Written by `author` (logins are case-insensitive) and carrying `marker`.
    pub fn is_sticky(&self, author: &str, marker: &str) -> bool {
        let ours = self
            .user
            .as_ref()
            .is_some_and(|u| u.login.eq_ignore_ascii_case(author));
        ours && self.body.as_deref().is_some_and(|b| b.contains(marker))
    }

    pub fn into_outcome(self, action: CommentAction) -> CommentOutcome {
        CommentOutcome {
            id: self.id,
            url: self.html_url,
            action,
        }
    }
}

/// One HTTP answer, read in full.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub throttle: Throttle,
    pub link: Option<String>,
    pub body: String,
}

impl Reply {
    pub fn success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// A server error or rate limit, worth repeating.
    pub fn transient(&self) -> bool {
        super::retry::is_transient(self.status, &self.throttle, &self.message())
    }

    /// GitHub's `message` field, or the start of the body, on one line.
    pub fn message(&self) -> String {
        let from_json = serde_json::from_str::<serde_json::Value>(&self.body)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(String::from));
        let text = from_json.unwrap_or_else(|| self.body.clone());
        let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        line.chars().take(200).collect()
    }

    /// Decodes the JSON body, naming the operation if it does not fit.
    pub fn parse<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, GithubError> {
        serde_json::from_str(&self.body).map_err(|e| GithubError::BadResponse {
            what: what.to_string(),
            reason: e.to_string(),
        })
    }
}

/// The URL with `rel="next"` in a `Link` header (RFC 8288), as GitHub sends it for
/// paginated lists; None on the last page.
pub(crate) fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|entry| {
        let (target, params) = entry.split_once(';')?;
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| target.to_string())
    })
}

/// The API root without a trailing slash, refusing what cannot be an http(s) base URL.
pub(crate) fn normalize_api_root(api_root: &str) -> Result<String, GithubError> {
    let root = api_root.trim().trim_end_matches('/');
    let reason = if !(root.starts_with("https://") || root.starts_with("http://")) {
        "it must start with https:// or http://"
    } else if root.contains(['?', '#']) {
        "it must not carry a query or fragment"
    } else if origin(root).len() <= "https://".len() {
        "it has no host"
    } else {
        return Ok(root.to_string());
    };
    Err(GithubError::InvalidApiUrl {
        url: api_root.to_string(),
        reason: reason.to_string(),
    })
}

/// The next page's URL from a `Link` header, None on the last page. A next page on
/// another origin is refused: octocrab only sends the token to the API's own origin,
/// so it would fail later with a confusing 401.
pub(crate) fn next_page(link: Option<&str>, api_root: &str) -> Result<Option<String>, String> {
    match link.and_then(next_link) {
        Some(next) if origin(&next) != origin(api_root) => Err(format!(
            "the next page is on another host: {}",
            origin(&next)
        )),
        next => Ok(next),
    }
}

/// `scheme://authority` of an absolute URL.
pub(crate) fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find('/')
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_finds_rel_next() {
        let h = "<https://api.github.com/repositories/1/issues/5/comments?per_page=100&page=2>; \
                 rel=\"next\", <https://api.github.com/repositories/1/issues/5/comments?per_page=100&page=3>; rel=\"last\"";
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://api.github.com/repositories/1/issues/5/comments?per_page=100&page=2")
        );
    }

    #[test]
    fn next_link_absent_on_last_page() {
        let h = "<https://x/c?page=1>; rel=\"prev\", <https://x/c?page=1>; rel=\"first\"";
        assert_eq!(next_link(h), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn next_page_stays_on_the_api_origin() {
        let root = "https://ghe.example/api/v3";
        let same =
            "<https://ghe.example/api/v3/repositories/1/issues/2/comments?page=2>; rel=\"next\"";
        let other = "<https://elsewhere.example/x?page=2>; rel=\"next\"";
        assert!(next_page(Some(same), root).unwrap().is_some());
        assert_eq!(next_page(None, root), Ok(None));
        assert!(next_page(Some(other), root)
            .unwrap_err()
            .contains("elsewhere.example"));
    }

    #[test]
    fn sticky_needs_author_and_marker() {
        let comment = |login: &str, body: &str| ApiComment {
            id: 1,
            html_url: String::new(),
            body: Some(body.to_string()),
            user: Some(ApiUser {
                login: login.to_string(),
            }),
        };
        let m = "<!-- modelgate:report -->";
        assert!(
            comment("GitHub-Actions[bot]", &format!("r\n{m}")).is_sticky("github-actions[bot]", m)
        );
        assert!(!comment("someone", m).is_sticky("github-actions[bot]", m));
        assert!(!comment("github-actions[bot]", "no marker").is_sticky("github-actions[bot]", m));
    }

    #[test]
    fn origin_keeps_scheme_and_authority() {
        assert_eq!(
            origin("https://ghe.example/api/v3/x"),
            "https://ghe.example"
        );
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn api_root_normalized_or_refused() {
        let ok = [
            ("https://api.github.com", "https://api.github.com"),
            ("https://ghe.example/api/v3/", "https://ghe.example/api/v3"),
            (" http://127.0.0.1:8080 ", "http://127.0.0.1:8080"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_api_root(input).unwrap(), want);
        }
        for input in [
            "api.github.com",
            "ftp://x",
            "https://",
            "https://x/api?y=1",
            "",
        ] {
            let err = normalize_api_root(input).unwrap_err();
            assert!(matches!(err, GithubError::InvalidApiUrl { .. }), "{input}");
        }
    }

    #[test]
    fn message_prefers_json_message() {
        let reply = |body: &str| Reply {
            status: 403,
            throttle: Throttle::default(),
            link: None,
            body: body.to_string(),
        };
        let json =
            r#"{"message":"Resource not accessible by integration","documentation_url":"x"}"#;
        assert_eq!(
            reply(json).message(),
            "Resource not accessible by integration"
        );
        assert_eq!(
            reply("<html>\n bad gateway\n</html>").message(),
            "<html> bad gateway </html>"
        );
    }
}
