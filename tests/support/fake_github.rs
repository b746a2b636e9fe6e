//! An in-process stand-in for the parts of GitHub's REST API the sticky comment uses.
//!
//! It listens on 127.0.0.1 on a free port, keeps issue comments in memory and answers
//! like GitHub: `Authorization: Bearer|token` required, `per_page`/`page` pagination with
//! a `Link` header whose absolute URLs use `/repositories/{id}/...` (as github.com does),
//! 201 on create, 403 "Resource not accessible by integration" for `GET /user` with a
//! workflow token and for writes with a read-only one, 404 for unknown pull requests.
//! Faults can be queued per HTTP method, and every request is recorded for assertions.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// Login GitHub gives comments made with a workflow's `GITHUB_TOKEN`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
}

/// The endpoints a fault can be queued for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /user`
    User,
    /// `GET .../issues/{pr}/comments`, by name or by repository id
    List,
    /// `POST .../issues/{pr}/comments`
    Create,
    /// `PATCH .../issues/comments/{id}`
    Update,
    /// `GET .../pulls/{pr}`
    Pull,
}

/// A scripted failure for the next request to an endpoint.
#[derive(Debug, Clone)]
pub enum Fault {
    /// 502 before doing anything.
    BadGateway,
    /// 502 whose body echoes the request's Authorization header (a broken proxy).
    BadGatewayEchoingAuth,
    /// 429 with `Retry-After`.
    TooManyRequests { retry_after_s: u64 },
    /// 403 with GitHub's secondary rate limit message and `Retry-After`.
    SecondaryRateLimit { retry_after_s: u64 },
    /// 404, as for a comment deleted by someone else a moment ago.
    NotFound,
    /// For POST: store the comment, then answer 502 anyway.
    BadGatewayAfterStore,
}

/// A comment held by the server.
#[derive(Debug, Clone)]
pub struct StoredComment {
    pub id: u64,
    pub owner: String,
    pub repo: String,
    pub pr: u64,
    pub login: String,
    pub body: String,
}

/// What `GET /repos/{owner}/{repo}/pulls/{n}` answers for a pull request.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub number: u64,
    /// open or closed.
    pub state: String,
    pub head_sha: String,
    pub head_ref: String,
    /// `owner/name` of the repository the head branch lives in (a fork's, or the base's).
    pub head_repo: String,
    pub base_ref: String,
    pub base_sha: String,
    /// Who opened it.
    pub author: String,
}

#[derive(Debug, Clone)]
pub(super) enum Identity {
    User(String),
    Workflow { read_only: bool },
}

#[derive(Default)]
pub(super) struct Inner {
    pub(super) base_url: String,
    pub(super) tokens: HashMap<String, Identity>,
    pub(super) repo_ids: Vec<(String, String)>,
    pub(super) prs: Vec<(String, String, u64)>,
    pub(super) pulls: Vec<(String, String, PullRequest)>,
    pub(super) comments: Vec<StoredComment>,
    pub(super) next_id: u64,
    pub(super) faults: VecDeque<(Endpoint, Fault)>,
    pub(super) requests: Vec<Recorded>,
}

pub(super) type Shared = Arc<Mutex<Inner>>;

/// A running fake; the server stops when this is dropped.
pub struct FakeGithub {
    /// API root to give the client: `http://127.0.0.1:PORT` plus any path prefix.
    pub api_root: String,
    state: Shared,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGithub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGithub {
    /// Serves the API at the root of the origin, like api.github.com.
    pub async fn start() -> Self {
        Self::start_with_prefix("").await
    }

    /// Serves the API under `prefix`, like GitHub Enterprise Server's `/api/v3`.
    pub async fn start_with_prefix(prefix: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state: Shared = Arc::default();
        let api_root = format!("http://{addr}{prefix}");
        state.lock().unwrap().base_url = api_root.clone();
        state.lock().unwrap().next_id = 1_000;
        let app = super::fake_routes::router(prefix, state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FakeGithub {
            api_root,
            state,
            task,
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.state.lock().unwrap()
    }

    /// A personal access token for `login`.
    pub fn add_user_token(&self, token: &str, login: &str) {
        self.inner()
            .tokens
            .insert(token.into(), Identity::User(login.into()));
    }

    /// A workflow `GITHUB_TOKEN`: comments by `github-actions[bot]`, `GET /user` refused,
    /// writes refused too when `read_only` (a pull_request run from a fork).
    pub fn add_workflow_token(&self, token: &str, read_only: bool) {
        self.inner()
            .tokens
            .insert(token.into(), Identity::Workflow { read_only });
    }

    /// Makes `owner/repo#pr` exist.
    pub fn add_pull_request(&self, owner: &str, repo: &str, pr: u64) {
        let mut inner = self.inner();
        if !inner.repo_ids.iter().any(|(o, r)| o == owner && r == repo) {
            inner.repo_ids.push((owner.into(), repo.into()));
        }
        inner.prs.push((owner.into(), repo.into(), pr));
    }

    /// Makes `owner/repo#pr` exist with the details `GET .../pulls/{n}` answers (a later call
    /// for the same number replaces them, as a push to the pull request would).
    pub fn set_pull_request(&self, owner: &str, repo: &str, pull: PullRequest) {
        let number = pull.number;
        {
            let mut inner = self.inner();
            inner
                .pulls
                .retain(|(o, r, p)| !(o == owner && r == repo && p.number == number));
            inner.pulls.push((owner.into(), repo.into(), pull));
        }
        let known = self
            .inner()
            .prs
            .iter()
            .any(|(o, r, p)| o == owner && r == repo && *p == number);
        if !known {
            self.add_pull_request(owner, repo, number);
        }
    }

    /// Stores a comment as if `login` had written it; returns its id.
    pub fn seed_comment(&self, owner: &str, repo: &str, pr: u64, login: &str, body: &str) -> u64 {
        store(&mut self.inner(), owner, repo, pr, login, body).id
    }

    /// Queues `fault` for the next request to `endpoint`.
    pub fn fail_next(&self, endpoint: Endpoint, fault: Fault) {
        self.inner().faults.push_back((endpoint, fault));
    }

    /// The comments on one pull request, oldest first.
    pub fn comments(&self, owner: &str, repo: &str, pr: u64) -> Vec<StoredComment> {
        let inner = self.inner();
        let on_pr = |c: &&StoredComment| c.owner == owner && c.repo == repo && c.pr == pr;
        inner.comments.iter().filter(on_pr).cloned().collect()
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner().requests.clone()
    }

    /// Requests so far with `method` whose path ends with `suffix`.
    pub fn count(&self, method: &str, suffix: &str) -> usize {
        let requests = self.requests();
        requests
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    }
}

pub(super) fn store(
    inner: &mut Inner,
    owner: &str,
    repo: &str,
    pr: u64,
    login: &str,
    body: &str,
) -> StoredComment {
    inner.next_id += 1;
    let comment = StoredComment {
        id: inner.next_id,
        owner: owner.into(),
        repo: repo.into(),
        pr,
        login: login.into(),
        body: body.into(),
    };
    inner.comments.push(comment.clone());
    comment
}
