//! Posting the report as one sticky pull-request comment through GitHub's REST API.
//!
//! This is the only module that imports `octocrab`. It uses octocrab's raw `_get`,
//! `_post` and `_patch` so it sees every status code and the `Link`, `Retry-After` and
//! `x-ratelimit-*` headers, and applies its own retry policy (see `retry`): octocrab's
//! retry layer is off because a blindly repeated `POST` could leave two comments.
//! A hidden marker at the end of the body lets the next run find and edit the comment.

mod body;
mod error;
mod retry;
mod types;
mod wire;

use std::fmt;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use octocrab::secrecy::{ExposeSecret, SecretString};
use octocrab::Octocrab;
use serde_json::json;

pub use body::COMMENT_BODY_MAX_CHARS;
pub use error::GithubError;
pub use retry::RetryPolicy;
pub use types::{parse_repo, CommentAction, CommentOutcome, RepoRef};

use retry::{Throttle, WaitBudget};
use wire::{next_page, ApiComment, ApiUser, Reply};

/// API root of github.com; GitHub Enterprise Server uses `https://HOST/api/v3`.
pub const DEFAULT_API_ROOT: &str = "https://api.github.com";

/// Author of comments made with a workflow's `GITHUB_TOKEN`. That token cannot read
/// `GET /user`, so this login is assumed when the call is refused.
pub const ACTIONS_BOT_LOGIN: &str = "github-actions[bot]";

/// GitHub's largest page size for issue comments.
const PER_PAGE: u32 = 100;
/// Stop following `Link` after this many pages (50,000 comments) rather than loop.
const MAX_PAGES: usize = 500;

/// A GitHub REST API client for the sticky report comment.
pub struct GithubClient {
    octo: Octocrab,
    api_root: String,
    token: SecretString,
    author: OnceLock<String>,
    retry: RetryPolicy,
    full_report: String,
}

impl fmt::Debug for GithubClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GithubClient")
            .field("api_root", &self.api_root)
            .field("token", &"<redacted>")
            .field("author", &self.author.get())
            .field("retry", &self.retry)
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
enum Verb {
    Get,
    Post,
    Patch,
}

impl GithubClient {
    /// A client for `api_root` (such as [`DEFAULT_API_ROOT`] or
    /// `https://ghe.example.com/api/v3`; a path prefix is kept) sending `token`.
    pub fn new(api_root: &str, token: &str) -> Result<Self, GithubError> {
        let token = token.trim();
        if token.is_empty() {
            return Err(GithubError::MissingToken);
        }
        let root = wire::normalize_api_root(api_root)?;
        let builder = Octocrab::builder().base_uri(root.as_str()).map_err(|_| {
            GithubError::InvalidApiUrl {
                url: api_root.to_string(),
                reason: "it is not a valid URL".to_string(),
            }
        })?;
        let octo = builder
            .personal_token(token.to_string())
            // `HeaderName: FromStr`; octocrab does not re-export the `http` crate.
            .add_header(
                "accept".parse().expect("valid header name"),
                "application/vnd.github+json".to_string(),
            )
            .add_header(
                "x-github-api-version".parse().expect("valid header name"),
                "2022-11-28".to_string(),
            )
            .set_connect_timeout(Some(Duration::from_secs(15)))
            .set_read_timeout(Some(Duration::from_secs(60)))
            .build()
            .map_err(|e| GithubError::Client {
                reason: e.to_string().replace(token, "***"),
            })?;
        Ok(GithubClient {
            octo,
            api_root: root,
            token: SecretString::from(token.to_string()),
            author: OnceLock::new(),
            retry: RetryPolicy::default(),
            full_report: "the job summary of this workflow run".to_string(),
        })
    }

    /// Treat comments by `login` as ours instead of asking `GET /user` (needed for
    /// GitHub App installation tokens, whose comments are by `APP-NAME[bot]`).
    pub fn with_comment_author(self, login: impl Into<String>) -> Self {
        let author = OnceLock::new();
        let _ = author.set(login.into());
        GithubClient { author, ..self }
    }

    /// Replaces the default [`RetryPolicy`].
    pub fn with_retry_policy(self, retry: RetryPolicy) -> Self {
        GithubClient { retry, ..self }
    }

    /// Links the note on a truncated comment to `url` (the workflow run's summary page)
    /// instead of only naming the job summary.
    pub fn with_full_report_url(self, url: &str) -> Self {
        let full_report = format!("the [job summary of this workflow run]({url})");
        GithubClient {
            full_report,
            ..self
        }
    }

    /// Posts `body` as the PR's report comment, or edits the earlier one: the newest
    /// comment by our author that contains `marker`. The marker is put at the end of
    /// the body, and the body is cut to fit [`COMMENT_BODY_MAX_CHARS`].
    pub async fn upsert_sticky_comment(
        &self,
        repo: &RepoRef,
        pr: u64,
        body: &str,
        marker: &str,
    ) -> Result<CommentOutcome, GithubError> {
        if marker.trim().is_empty() {
            return Err(GithubError::InvalidMarker);
        }
        let mut budget = WaitBudget::new(&self.retry);
        let author = self.author(&mut budget).await?;
        let text = body::fit_comment_body(body, marker, &self.full_report);
        let payload = json!({ "body": text });

        if let Some(existing) = self
            .find_sticky(repo, pr, marker, &author, &mut budget)
            .await?
        {
            let url = format!(
                "{}/repos/{repo}/issues/comments/{}",
                self.api_root, existing.id
            );
            let what = format!("updating comment {} on {repo}#{pr}", existing.id);
            let reply = self
                .send_retrying(Verb::Patch, &url, Some(&payload), &what, &mut budget)
                .await?;
            // A 404 here means the comment was deleted since we listed it: post anew.
            if reply.status != 404 {
                let comment: ApiComment = self.check(reply, &what, repo, pr)?.parse(&what)?;
                return Ok(comment.into_outcome(CommentAction::Updated));
            }
        }
        self.create(repo, pr, &payload, marker, &author, &mut budget)
            .await
    }

    /// Posts the comment. A failed `POST` may still have been stored, so before each
    /// new attempt the comments are listed again and the marker comment, if now
    /// present, is taken as ours: never two report comments.
    async fn create(
        &self,
        repo: &RepoRef,
        pr: u64,
        payload: &serde_json::Value,
        marker: &str,
        author: &str,
        budget: &mut WaitBudget,
    ) -> Result<CommentOutcome, GithubError> {
        let url = format!("{}/repos/{repo}/issues/{pr}/comments", self.api_root);
        let what = format!("posting a comment on {repo}#{pr}");
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(Verb::Post, &url, Some(payload)).await {
                Ok(reply) if !reply.transient() => {
                    let comment: ApiComment = self.check(reply, &what, repo, pr)?.parse(&what)?;
                    return Ok(comment.into_outcome(CommentAction::Created));
                }
                answer => {
                    self.pause_or_give_up(answer, attempt, &what, budget)
                        .await?
                }
            }
            if let Some(stored) = self.find_sticky(repo, pr, marker, author, budget).await? {
                return Ok(stored.into_outcome(CommentAction::Created));
            }
        }
    }

    /// The newest comment on the PR by `author` whose body holds `marker`, reading
    /// every page by following `Link: rel="next"`.
    async fn find_sticky(
        &self,
        repo: &RepoRef,
        pr: u64,
        marker: &str,
        author: &str,
        budget: &mut WaitBudget,
    ) -> Result<Option<ApiComment>, GithubError> {
        let what = format!("listing comments on {repo}#{pr}");
        let mut url = format!(
            "{}/repos/{repo}/issues/{pr}/comments?per_page={PER_PAGE}",
            self.api_root
        );
        let mut newest: Option<ApiComment> = None;
        for _ in 0..MAX_PAGES {
            let reply = self
                .send_retrying(Verb::Get, &url, None, &what, budget)
                .await?;
            let reply = self.check(reply, &what, repo, pr)?;
            let page: Vec<ApiComment> = reply.parse(&what)?;
            for comment in page.into_iter().filter(|c| c.is_sticky(author, marker)) {
                if newest.as_ref().is_none_or(|n| comment.id > n.id) {
                    newest = Some(comment);
                }
            }
            match next_page(reply.link.as_deref(), &self.api_root) {
                Ok(None) => return Ok(newest),
                Ok(Some(next)) => url = next,
                Err(reason) => return Err(GithubError::BadResponse { what, reason }),
            }
        }
        Err(GithubError::BadResponse {
            what,
            reason: format!("more than {MAX_PAGES} pages of comments"),
        })
    }

    /// The login whose comments count as ours: the configured one, else the token's
    /// user, else [`ACTIONS_BOT_LOGIN`] when `GET /user` is refused.
    async fn author(&self, budget: &mut WaitBudget) -> Result<String, GithubError> {
        if let Some(login) = self.author.get() {
            return Ok(login.clone());
        }
        let what = "reading the token's user (GET /user)";
        let url = format!("{}/user", self.api_root);
        let reply = self
            .send_retrying(Verb::Get, &url, None, what, budget)
            .await?;
        let login = match reply.status {
            200..=299 => reply.parse::<ApiUser>(what)?.login,
            401 => {
                let message = self.redact(&reply.message());
                return Err(GithubError::unauthorized(&self.api_root, message));
            }
            // Workflow and App installation tokens answer 403 "Resource not accessible
            // by integration" here.
            _ => ACTIONS_BOT_LOGIN.to_string(),
        };
        Ok(self.author.get_or_init(|| login).clone())
    }

    /// Sends an idempotent request, repeating it on transient failures.
    async fn send_retrying(
        &self,
        verb: Verb,
        url: &str,
        payload: Option<&serde_json::Value>,
        what: &str,
        budget: &mut WaitBudget,
    ) -> Result<Reply, GithubError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send_once(verb, url, payload).await {
                Ok(reply) if !reply.transient() => return Ok(reply),
                answer => self.pause_or_give_up(answer, attempt, what, budget).await?,
            }
        }
    }

    /// After a transient failure: sleeps as GitHub asks (capped by the policy), or
    /// returns the error to report when attempts or the wait budget are spent.
    async fn pause_or_give_up(
        &self,
        answer: Result<Reply, String>,
        attempt: u32,
        what: &str,
        budget: &mut WaitBudget,
    ) -> Result<(), GithubError> {
        let (status, throttle, message) = match &answer {
            Ok(reply) => (Some(reply.status), reply.throttle.clone(), reply.message()),
            Err(reason) => (None, Throttle::default(), reason.clone()),
        };
        let now_s = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let wanted =
            retry::requested_wait(&self.retry, status, &throttle, &message, attempt, now_s);
        let wait = (attempt < self.retry.max_attempts)
            .then(|| budget.take(&self.retry, wanted))
            .flatten();
        if let Some(wait) = wait {
            tokio::time::sleep(wait).await;
            return Ok(());
        }
        let rate_limited = status.is_some_and(|s| retry::is_rate_limited(s, &throttle, &message));
        let message = self.redact(&message);
        Err(GithubError::after_retries(
            what,
            status,
            rate_limited,
            attempt,
            message,
        ))
    }

    /// One request, read in full; Err carries a redacted transport error.
    async fn send_once(
        &self,
        verb: Verb,
        url: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<Reply, String> {
        let sent = match verb {
            Verb::Get => self.octo._get(url).await,
            Verb::Post => self.octo._post(url, payload).await,
            Verb::Patch => self.octo._patch(url, payload).await,
        };
        let response = sent.map_err(|e| self.redact(&e.to_string()))?;
        let headers = response.headers();
        let header = |name: &str| {
            let values: Vec<&str> = headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        };
        let status = response.status().as_u16();
        let throttle = Throttle {
            retry_after: header("retry-after"),
            remaining: header("x-ratelimit-remaining"),
            reset: header("x-ratelimit-reset"),
        };
        let link = header("link");
        let body = self
            .octo
            .body_to_string(response)
            .await
            .map_err(|e| self.redact(&e.to_string()))?;
        Ok(Reply {
            status,
            throttle,
            link,
            body,
        })
    }

    /// Turns a final non-2xx answer into the error that names its fix.
    fn check(
        &self,
        reply: Reply,
        what: &str,
        repo: &RepoRef,
        pr: u64,
    ) -> Result<Reply, GithubError> {
        if reply.success() {
            return Ok(reply);
        }
        let message = self.redact(&reply.message());
        Err(GithubError::from_status(
            reply.status,
            message,
            what,
            repo,
            pr,
            &self.api_root,
        ))
    }

    /// Removes the token from text that came from the server or the HTTP stack.
    fn redact(&self, text: &str) -> String {
        text.replace(self.token.expose_secret(), "***")
    }
}
