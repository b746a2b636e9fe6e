//! The sticky PR comment against a local server that behaves like GitHub's REST API.
//!
//! Each test starts its own fake (tests/support/fake_github.rs) on 127.0.0.1, drives the
//! real `GithubClient` (octocrab's HTTP stack included) and checks both the outcome and
//! what the server stored or was asked: one comment after any number of runs, every
//! page read, retries that honour GitHub's headers, and errors that name their fix.

use crate::support;

use std::time::{Duration, Instant};

use modelgate::publish::github::{
    parse_repo, CommentAction, CommentOutcome, GithubClient, GithubError, RepoRef, RetryPolicy,
    COMMENT_BODY_MAX_CHARS,
};
use support::fake_github::{Endpoint, FakeGithub, Fault, ACTIONS_BOT};

const TOKEN: &str = "ghp_TestToken0123456789abcdefABCDEF";
const LOGIN: &str = "model-owner";
const MARKER: &str = "<!-- modelgate:report -->";
const OWNER: &str = "octo-org";
const NAME: &str = "models";
const PR: u64 = 7;

fn repo() -> RepoRef {
    parse_repo(&format!("{OWNER}/{NAME}")).unwrap()
}

/// Short waits so retry tests run in milliseconds.
fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_wait: Duration::from_millis(50),
        max_total_wait: Duration::from_secs(2),
        backoff_base: Duration::from_millis(10),
    }
}

/// A fake with one pull request and a personal token for `LOGIN`.
async fn fake() -> FakeGithub {
    let fake = FakeGithub::start().await;
    fake.add_user_token(TOKEN, LOGIN);
    fake.add_pull_request(OWNER, NAME, PR);
    fake
}

fn client(fake: &FakeGithub) -> GithubClient {
    client_with(fake, TOKEN)
}

fn client_with(fake: &FakeGithub, token: &str) -> GithubClient {
    GithubClient::new(&fake.api_root, token)
        .unwrap()
        .with_retry_policy(fast_policy())
}

/// One run of the sticky comment on the test pull request.
async fn upsert(gh: &GithubClient, body: &str) -> Result<CommentOutcome, GithubError> {
    gh.upsert_sticky_comment(&repo(), PR, body, MARKER).await
}

#[tokio::test]
async fn first_run_creates_second_run_updates_the_same_comment() {
    let fake = fake().await;
    let gh = client(&fake);
    let first = upsert(&gh, "# Report\nrun 1\n").await.unwrap();
    assert_eq!(first.action, CommentAction::Created);
    assert!(first.url.ends_with(&format!("#issuecomment-{}", first.id)));
    let second = upsert(&gh, "# Report\nrun 2\n").await.unwrap();
    assert_eq!(second.action, CommentAction::Updated);
    assert_eq!(second.id, first.id);

    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].body, format!("# Report\nrun 2\n\n{MARKER}"));
    assert_eq!(comments[0].login, LOGIN);
    assert_eq!(fake.count("POST", "/comments"), 1);
    assert_eq!(fake.count("PATCH", &format!("/comments/{}", first.id)), 1);
    // octocrab sends the token as a bearer token on every request.
    let bearer = format!("Bearer {TOKEN}");
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.authorization.as_deref() == Some(bearer.as_str())));
}

#[tokio::test]
async fn workflow_token_finds_its_bot_comment_and_ignores_others() {
    let fake = fake().await;
    fake.add_workflow_token("ghs_workflow", false);
    // Someone quoting the report carries the marker too; it must not be edited.
    let quoted = fake.seed_comment(OWNER, NAME, PR, "reviewer", &format!("> old\n{MARKER}"));
    let gh = client_with(&fake, "ghs_workflow");
    let first = upsert(&gh, "run 1").await.unwrap();
    let second = upsert(&gh, "run 2").await.unwrap();
    assert_eq!(
        (first.action, second.action),
        (CommentAction::Created, CommentAction::Updated)
    );
    assert_eq!(first.id, second.id);
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0].id, quoted);
    assert_eq!(comments[0].body, format!("> old\n{MARKER}"));
    assert_eq!(comments[1].login, ACTIONS_BOT);
}

#[tokio::test]
async fn marker_comment_on_page_three_is_found_and_updated() {
    let fake = fake().await;
    for i in 0..250 {
        fake.seed_comment(OWNER, NAME, PR, "reviewer", &format!("looks good {i}"));
    }
    let ours = fake.seed_comment(OWNER, NAME, PR, LOGIN, &format!("old\n\n{MARKER}"));
    let gh = client(&fake).with_comment_author(LOGIN);
    let outcome = upsert(&gh, "new").await.unwrap();
    assert_eq!((outcome.action, outcome.id), (CommentAction::Updated, ours));
    assert_eq!(fake.count("POST", "/comments"), 0);
    let pages: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.query)
        .collect();
    assert_eq!(
        pages,
        ["per_page=100", "per_page=100&page=2", "per_page=100&page=3"]
    );
    assert_eq!(fake.comments(OWNER, NAME, PR).len(), 251);
}

#[tokio::test]
async fn newest_of_several_marker_comments_is_updated() {
    let fake = fake().await;
    let older = fake.seed_comment(OWNER, NAME, PR, LOGIN, MARKER);
    let newer = fake.seed_comment(OWNER, NAME, PR, LOGIN, MARKER);
    let outcome = upsert(&client(&fake), "new").await.unwrap();
    assert_eq!(outcome.id, newer);
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(
        comments.iter().find(|c| c.id == older).unwrap().body,
        MARKER
    );
}

#[tokio::test]
async fn over_long_body_is_cut_under_the_limit_with_marker_last() {
    let fake = fake().await;
    let body = "| layer | 0.1234 ms | 0.1301 ms |\n".repeat(3_200); // about 100k characters
    assert!(body.chars().count() > 100_000);
    let run_url = "https://github.com/octo-org/models/actions/runs/42";
    upsert(&client(&fake).with_full_report_url(run_url), &body)
        .await
        .unwrap();
    let stored = &fake.comments(OWNER, NAME, PR)[0].body;
    assert!(stored.chars().count() <= COMMENT_BODY_MAX_CHARS);
    assert!(stored.chars().count() > 60_000, "cut far more than needed");
    assert!(stored.ends_with(MARKER));
    assert!(stored.contains(&format!("[job summary of this workflow run]({run_url})")));
}

#[tokio::test]
async fn bad_gateway_then_success() {
    let fake = fake().await;
    fake.fail_next(Endpoint::List, Fault::BadGateway);
    let outcome = upsert(&client(&fake), "r").await.unwrap();
    assert_eq!(outcome.action, CommentAction::Created);
    assert_eq!(fake.count("GET", "/comments"), 2);
}

#[tokio::test]
async fn update_is_retried_after_bad_gateway() {
    let fake = fake().await;
    let ours = fake.seed_comment(OWNER, NAME, PR, LOGIN, MARKER);
    fake.fail_next(Endpoint::Update, Fault::BadGateway);
    let outcome = upsert(&client(&fake), "new").await.unwrap();
    assert_eq!((outcome.action, outcome.id), (CommentAction::Updated, ours));
    assert_eq!(fake.count("PATCH", &format!("/comments/{ours}")), 2);
    assert_eq!(
        fake.comments(OWNER, NAME, PR)[0].body,
        format!("new\n\n{MARKER}")
    );
}

#[tokio::test]
async fn comment_deleted_before_update_is_posted_anew() {
    let fake = fake().await;
    fake.seed_comment(OWNER, NAME, PR, LOGIN, MARKER);
    fake.fail_next(Endpoint::Update, Fault::NotFound);
    let outcome = upsert(&client(&fake), "new").await.unwrap();
    assert_eq!(outcome.action, CommentAction::Created);
    assert_eq!(fake.count("POST", "/comments"), 1);
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after() {
    let fake = fake().await;
    fake.fail_next(Endpoint::List, Fault::TooManyRequests { retry_after_s: 1 });
    let policy = RetryPolicy {
        max_wait: Duration::from_secs(5),
        ..fast_policy()
    };
    let gh = client(&fake).with_retry_policy(policy);
    let started = Instant::now();
    upsert(&gh, "r").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.count("GET", "/comments"), 2);
}

#[tokio::test]
async fn retry_after_is_capped_by_the_policy() {
    let fake = fake().await;
    fake.fail_next(Endpoint::User, Fault::TooManyRequests { retry_after_s: 30 });
    fake.fail_next(
        Endpoint::Create,
        Fault::SecondaryRateLimit { retry_after_s: 30 },
    );
    let started = Instant::now();
    let outcome = upsert(&client(&fake), "r").await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(outcome.action, CommentAction::Created);
    assert_eq!(fake.comments(OWNER, NAME, PR).len(), 1);
}

#[tokio::test]
async fn rate_limit_that_never_lifts_gives_up() {
    let fake = fake().await;
    for _ in 0..10 {
        fake.fail_next(Endpoint::List, Fault::TooManyRequests { retry_after_s: 1 });
    }
    let err = upsert(&client(&fake), "r").await.unwrap_err();
    assert!(
        matches!(err, GithubError::RateLimited { attempts: 4, .. }),
        "{err:?}"
    );
    assert_eq!(fake.count("GET", "/comments"), 4);
}

#[tokio::test]
async fn post_that_failed_after_storing_is_not_duplicated() {
    let fake = fake().await;
    fake.fail_next(Endpoint::Create, Fault::BadGatewayAfterStore);
    let outcome = upsert(&client(&fake), "r").await.unwrap();
    assert_eq!(outcome.action, CommentAction::Created);
    let comments = fake.comments(OWNER, NAME, PR);
    assert_eq!(comments.len(), 1);
    assert_eq!(outcome.id, comments[0].id);
    assert_eq!(fake.count("POST", "/comments"), 1);
    assert_eq!(fake.count("GET", "/comments"), 2);
}

#[tokio::test]
async fn post_that_failed_before_storing_is_posted_again() {
    let fake = fake().await;
    fake.fail_next(Endpoint::Create, Fault::BadGateway);
    let outcome = upsert(&client(&fake), "r").await.unwrap();
    assert_eq!(outcome.action, CommentAction::Created);
    assert_eq!(fake.comments(OWNER, NAME, PR).len(), 1);
    assert_eq!(fake.count("POST", "/comments"), 2);
}

#[tokio::test]
async fn read_only_token_gives_permission_error_with_the_fix() {
    let fake = fake().await;
    fake.add_workflow_token("ghs_fork_run", true);
    let gh = client_with(&fake, "ghs_fork_run");
    let err = upsert(&gh, "r").await.unwrap_err();
    assert!(
        matches!(err, GithubError::Permission { pr: PR, .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("permissions:\n  pull-requests: write"),
        "{message}"
    );
    assert!(message.contains("Resource not accessible by integration"));
    assert!(message.contains("pull_request_target") && message.contains("forks"));
    assert_eq!(fake.count("POST", "/comments"), 1, "a 403 is not retried");
}

#[tokio::test]
async fn unknown_pull_request_is_not_found_naming_the_repo() {
    let fake = fake().await;
    let other = parse_repo("octo-org/elsewhere").unwrap();
    let err = client(&fake)
        .upsert_sticky_comment(&other, 99, "r", MARKER)
        .await
        .unwrap_err();
    assert!(
        matches!(err, GithubError::NotFound { pr: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("octo-org/elsewhere"));
    assert!(err.to_string().contains("#99"));
}

#[tokio::test]
async fn bad_token_is_unauthorized() {
    let fake = fake().await;
    let gh = client_with(&fake, "ghp_wrong");
    let err = upsert(&gh, "r").await.unwrap_err();
    assert!(matches!(err, GithubError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains("GITHUB_TOKEN"));
}

#[tokio::test]
async fn token_never_appears_in_errors_or_debug() {
    let fake = fake().await;
    fake.add_workflow_token(TOKEN, true);
    let mut errors = Vec::new();
    // 403 permission.
    errors.push(upsert(&client(&fake), "r").await.unwrap_err());
    // 404.
    let other = parse_repo("octo-org/elsewhere").unwrap();
    errors.push(
        client(&fake)
            .upsert_sticky_comment(&other, 1, "r", MARKER)
            .await
            .unwrap_err(),
    );
    // A 5xx whose body echoes the Authorization header, until retries run out.
    for _ in 0..4 {
        fake.fail_next(Endpoint::List, Fault::BadGatewayEchoingAuth);
    }
    errors.push(upsert(&client(&fake), "r").await.unwrap_err());
    assert!(
        matches!(errors[2], GithubError::Server { status: 502, .. }),
        "{:?}",
        errors[2]
    );
    // Nothing listening.
    drop(fake);
    let gone = GithubClient::new("http://127.0.0.1:9", TOKEN)
        .unwrap()
        .with_retry_policy(fast_policy());
    errors.push(upsert(&gone, "r").await.unwrap_err());
    assert!(
        matches!(errors[3], GithubError::Transport { .. }),
        "{:?}",
        errors[3]
    );

    for err in &errors {
        assert!(!err.to_string().contains(TOKEN), "{err}");
        assert!(!format!("{err:?}").contains(TOKEN), "{err:?}");
    }
    assert!(errors[2].to_string().contains("***"), "{}", errors[2]);
    assert!(!format!("{gone:?}").contains(TOKEN));
}

#[tokio::test]
async fn enterprise_path_prefix_is_kept() {
    let fake = FakeGithub::start_with_prefix("/api/v3").await;
    fake.add_user_token(TOKEN, LOGIN);
    fake.add_pull_request(OWNER, NAME, PR);
    for i in 0..150 {
        fake.seed_comment(OWNER, NAME, PR, "reviewer", &format!("note {i}"));
    }
    let gh = GithubClient::new(&format!("{}/", fake.api_root), TOKEN).unwrap();
    let first = upsert(&gh, "r1").await.unwrap();
    let second = upsert(&gh, "r2").await.unwrap();
    assert_eq!(
        (first.action, second.action),
        (CommentAction::Created, CommentAction::Updated)
    );
    assert_eq!(fake.comments(OWNER, NAME, PR).len(), 151);
    let requests = fake.requests();
    assert!(
        requests.iter().all(|r| r.path.starts_with("/api/v3/")),
        "{requests:?}"
    );
    assert!(requests
        .iter()
        .any(|r| r.path.starts_with("/api/v3/repositories/")));
}

#[test]
fn client_refuses_bad_input() {
    assert!(matches!(
        GithubClient::new("https://api.github.com", " "),
        Err(GithubError::MissingToken)
    ));
    let err = GithubClient::new("api.github.com", TOKEN).unwrap_err();
    assert!(matches!(err, GithubError::InvalidApiUrl { .. }), "{err:?}");
    assert!(!err.to_string().contains(TOKEN));
}
