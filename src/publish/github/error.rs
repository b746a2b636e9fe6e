//! Why posting the PR comment failed, in words that name the fix.
//!
//! The CLI shows these messages as they are, so each says what went wrong and what to
//! change. Callers match on the variants: a permission problem on a fork's pull request
//! is worth a warning, a bad token is not. No variant ever holds the token; server
//! messages are redacted before they are stored here.

use super::RepoRef;

/// A failure talking to the GitHub REST API.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    /// The repository argument is not `OWNER/NAME`.
    #[error(
        "invalid repository '{input}': expected OWNER/NAME such as 'octo-org/models' \
         (in a workflow, pass ${{{{ github.repository }}}})"
    )]
    InvalidRepo {
        /// What was given.
        input: String,
    },

    /// The API root URL could not be used.
    #[error(
        "invalid GitHub API URL '{url}': {reason}; pass an http(s) URL such as \
         https://api.github.com or https://ghe.example.com/api/v3 (in a workflow, ${{{{ github.api_url }}}})"
    )]
    InvalidApiUrl {
        /// What was given.
        url: String,
        /// Why it was refused.
        reason: String,
    },

    /// No token, or an empty one.
    #[error(
        "no GitHub token given: set GITHUB_TOKEN (in a workflow, ${{{{ secrets.GITHUB_TOKEN }}}})"
    )]
    MissingToken,

    /// The sticky marker is empty.
    #[error(
        "empty comment marker: pass a hidden HTML comment such as '<!-- modelgate:report -->'"
    )]
    InvalidMarker,

    /// The HTTP client could not be built.
    #[error("could not set up the GitHub HTTP client: {reason}")]
    Client {
        /// The underlying error, redacted.
        reason: String,
    },

    /// 401: the token is wrong, expired or revoked.
    #[error(
        "GitHub rejected the token (401 {message}) at {api_root}: pass a valid, unexpired token \
         in GITHUB_TOKEN (in a workflow, ${{{{ secrets.GITHUB_TOKEN }}}})"
    )]
    Unauthorized {
        /// The API root that refused it.
        api_root: String,
        /// GitHub's message, redacted.
        message: String,
    },

    /// 403 without rate limiting: the token may not write comments.
    #[error(
        "GitHub refused to write the comment on {repo}#{pr} (403 {message}): give the token write \
         access by adding the block below to the workflow or job (`issues: write` also works for \
         comments); pull_request runs from forks always get a read-only token, so use the \
         pull_request_target workflow in docs/action.md, whose comment job holds the write token\n\
         permissions:\n  pull-requests: write"
    )]
    Permission {
        /// `OWNER/NAME`.
        repo: String,
        /// Pull request number.
        pr: u64,
        /// GitHub's message, redacted.
        message: String,
    },

    /// 404: no such repository or pull request, or the token cannot see it.
    #[error(
        "GitHub found no pull request #{pr} in {repo} (404): check the repository (OWNER/NAME) and \
         PR number, and that the token can read the repository if it is private"
    )]
    NotFound {
        /// `OWNER/NAME`.
        repo: String,
        /// Pull request number.
        pr: u64,
    },

    /// Still rate-limited once the retry wait budget was spent.
    #[error(
        "GitHub kept rate-limiting {what} ({message}) after {attempts} attempts: wait for the \
         limit to reset, or allow a longer retry wait"
    )]
    RateLimited {
        /// The operation, such as "listing comments on o/r#1".
        what: String,
        /// Attempts made.
        attempts: u32,
        /// GitHub's message, redacted.
        message: String,
    },

    /// Still a 5xx once retries ran out.
    #[error(
        "GitHub kept failing {what} ({status} {message}) after {attempts} attempts: re-run the \
         job, and check https://www.githubstatus.com if it persists"
    )]
    Server {
        /// The operation.
        what: String,
        /// Last HTTP status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// GitHub's message, redacted.
        message: String,
    },

    /// Another 4xx, such as a 422 validation failure.
    #[error("GitHub refused {what} ({status} {message}): this is likely a modelgate bug, please report it")]
    Rejected {
        /// The operation.
        what: String,
        /// HTTP status.
        status: u16,
        /// GitHub's message, redacted.
        message: String,
    },

    /// No answer at all (connection refused, DNS, TLS, timeout).
    #[error(
        "could not reach the GitHub API for {what} ({reason}) after {attempts} attempts: check \
         the API URL (GITHUB_API_URL) and the runner's network"
    )]
    Transport {
        /// The operation.
        what: String,
        /// The underlying error, redacted.
        reason: String,
        /// Attempts made.
        attempts: u32,
    },

    /// A 2xx answer whose body or headers were not what the API documents.
    #[error("GitHub's answer to {what} was not understood ({reason}): check that the API URL points at a GitHub REST API")]
    BadResponse {
        /// The operation.
        what: String,
        /// What was wrong.
        reason: String,
    },
}

impl GithubError {
    /// 401 from `api_root`; `message` must already be redacted.
    pub(crate) fn unauthorized(api_root: &str, message: String) -> Self {
        GithubError::Unauthorized {
            api_root: api_root.to_string(),
            message,
        }
    }

    /// The error for a final non-2xx, non-transient answer to `what` on `repo#pr`.
    pub(crate) fn from_status(
        status: u16,
        message: String,
        what: &str,
        repo: &RepoRef,
        pr: u64,
        api_root: &str,
    ) -> Self {
        let repo = repo.to_string();
        match status {
            401 => Self::unauthorized(api_root, message),
            403 => GithubError::Permission { repo, pr, message },
            404 => GithubError::NotFound { repo, pr },
            status => GithubError::Rejected {
                what: what.to_string(),
                status,
                message,
            },
        }
    }

    /// The error once retries of `what` ran out; `status` None means no answer at all.
    pub(crate) fn after_retries(
        what: &str,
        status: Option<u16>,
        rate_limited: bool,
        attempts: u32,
        message: String,
    ) -> Self {
        let what = what.to_string();
        match status {
            None => GithubError::Transport {
                what,
                reason: message,
                attempts,
            },
            Some(_) if rate_limited => GithubError::RateLimited {
                what,
                attempts,
                message,
            },
            Some(status) => GithubError::Server {
                what,
                status,
                attempts,
                message,
            },
        }
    }
}
