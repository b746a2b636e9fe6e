//! The request handlers of the fake GitHub API (see `fake_github`).
//!
//! Each handler authenticates first and then applies a queued fault, in the order GitHub
//! itself checks things, so a test can fail any one request of the sticky comment flow.

use std::collections::HashMap;

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::fake_github::{
    store, Endpoint, Fault, Identity, Inner, Recorded, Shared, StoredComment, ACTIONS_BOT,
};

/// The API's routes under `prefix` ("" or a GitHub Enterprise style "/api/v3").
pub fn router(prefix: &str, state: Shared) -> Router {
    let routes = Router::new()
        .route("/user", get(get_user))
        .route(
            "/repos/{owner}/{repo}/issues/{pr}/comments",
            get(list_by_name).post(create_comment),
        )
        .route("/repositories/{id}/issues/{pr}/comments", get(list_by_id))
        .route("/repos/{owner}/{repo}/pulls/{pr}", get(get_pull))
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            patch(update_comment),
        );
    let app = if prefix.is_empty() {
        routes
    } else {
        Router::new().nest(prefix, routes)
    };
    app.layer(middleware::from_fn_with_state(state.clone(), record))
        .with_state(state)
}

fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({ "message": message, "documentation_url": "https://docs.github.com/rest" });
    (status, Json(body)).into_response()
}

async fn record(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let header = request.headers().get("authorization");
    let recorded = Recorded {
        method: request.method().to_string(),
        path: request.uri().path().to_string(),
        query: request.uri().query().unwrap_or("").to_string(),
        authorization: header.and_then(|v| v.to_str().ok()).map(String::from),
    };
    state.lock().unwrap().requests.push(recorded);
    next.run(request).await
}

fn to_json(c: &StoredComment) -> Value {
    let kind = if c.login.ends_with("[bot]") {
        "Bot"
    } else {
        "User"
    };
    json!({
        "id": c.id,
        "node_id": format!("IC_{}", c.id),
        "html_url": format!("https://github.com/{}/{}/pull/{}#issuecomment-{}", c.owner, c.repo, c.pr, c.id),
        "body": c.body,
        "user": { "login": c.login, "id": 41898282, "type": kind },
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "author_association": "NONE",
    })
}

/// Authenticates, then applies a queued fault for `endpoint`, as GitHub would in order.
// Returning the handler's `Response` unboxed keeps the handlers plain; size is no concern here.
#[allow(clippy::result_large_err)]
fn gate(inner: &mut Inner, headers: &HeaderMap, endpoint: Endpoint) -> Result<Identity, Response> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("token "));
    let identity = token.and_then(|t| inner.tokens.get(t).cloned());
    let Some(identity) = identity else {
        return Err(error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    };
    let position = inner
        .faults
        .iter()
        .position(|(m, f)| *m == endpoint && !matches!(f, Fault::BadGatewayAfterStore));
    let Some(fault) = position
        .and_then(|i| inner.faults.remove(i))
        .map(|(_, f)| f)
    else {
        return Ok(identity);
    };
    let limited = |status: StatusCode, message: &str, retry_after_s: u64| {
        let mut response = error(status, message);
        let headers = response.headers_mut();
        headers.insert("retry-after", retry_after_s.to_string().parse().unwrap());
        headers.insert("x-ratelimit-remaining", "17".parse().unwrap());
        response
    };
    Err(match fault {
        Fault::BadGateway => (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response(),
        Fault::BadGatewayEchoingAuth => error(StatusCode::BAD_GATEWAY, &format!("upstream rejected {auth}")),
        Fault::TooManyRequests { retry_after_s } => {
            limited(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded", retry_after_s)
        }
        Fault::SecondaryRateLimit { retry_after_s } => limited(
            StatusCode::FORBIDDEN,
            "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
            retry_after_s,
        ),
        Fault::NotFound => error(StatusCode::NOT_FOUND, "Not Found"),
        Fault::BadGatewayAfterStore => unreachable!("filtered above"),
    })
}

fn login_of(identity: &Identity) -> String {
    match identity {
        Identity::User(login) => login.clone(),
        Identity::Workflow { .. } => ACTIONS_BOT.to_string(),
    }
}

async fn get_user(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let mut inner = state.lock().unwrap();
    match gate(&mut inner, &headers, Endpoint::User) {
        Err(response) => response,
        Ok(Identity::Workflow { .. }) => error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ),
        Ok(Identity::User(login)) => {
            Json(json!({ "login": login, "id": 1, "type": "User" })).into_response()
        }
    }
}

async fn get_pull(
    State(state): State<Shared>,
    Path((owner, repo, pr)): Path<(String, String, u64)>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock().unwrap();
    if let Err(response) = gate(&mut inner, &headers, Endpoint::Pull) {
        return response;
    }
    let Some((_, _, pull)) = inner
        .pulls
        .iter()
        .find(|(o, r, p)| *o == owner && *r == repo && p.number == pr)
    else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    Json(json!({
        "number": pull.number,
        "state": pull.state,
        "head": { "sha": pull.head_sha, "ref": pull.head_ref, "repo": { "full_name": pull.head_repo } },
        "base": { "ref": pull.base_ref, "sha": pull.base_sha, "repo": { "full_name": format!("{owner}/{repo}") } },
        "user": { "login": pull.author, "type": "User" },
    }))
    .into_response()
}

async fn list_by_name(
    State(state): State<Shared>,
    Path((owner, repo, pr)): Path<(String, String, u64)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    list(
        &mut state.lock().unwrap(),
        &owner,
        &repo,
        pr,
        &query,
        &headers,
    )
}

async fn list_by_id(
    State(state): State<Shared>,
    Path((id, pr)): Path<(usize, u64)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = state.lock().unwrap();
    let Some((owner, repo)) = inner.repo_ids.get(id).cloned() else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    list(&mut inner, &owner, &repo, pr, &query, &headers)
}

fn list(
    inner: &mut Inner,
    owner: &str,
    repo: &str,
    pr: u64,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    if let Err(response) = gate(inner, headers, Endpoint::List) {
        return response;
    }
    if !inner
        .prs
        .iter()
        .any(|(o, r, p)| o == owner && r == repo && *p == pr)
    {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    let number = |key: &str, default: usize| {
        query
            .get(key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let per_page = number("per_page", 30).clamp(1, 100);
    let page = number("page", 1).max(1);
    let all: Vec<&StoredComment> = inner
        .comments
        .iter()
        .filter(|c| c.owner == owner && c.repo == repo && c.pr == pr)
        .collect();
    let last = all.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| to_json(c))
        .collect();
    let repo_id = inner
        .repo_ids
        .iter()
        .position(|(o, r)| o == owner && r == repo)
        .unwrap();
    let url = |k: usize| {
        format!(
            "{}/repositories/{repo_id}/issues/{pr}/comments?per_page={per_page}&page={k}",
            inner.base_url
        )
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    let mut response = Json(items).into_response();
    if !links.is_empty() {
        response
            .headers_mut()
            .insert("link", links.join(", ").parse().unwrap());
    }
    response
}

async fn create_comment(
    State(state): State<Shared>,
    Path((owner, repo, pr)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(payload): Json<Value>,
) -> Response {
    let mut inner = state.lock().unwrap();
    let identity = match gate(&mut inner, &headers, Endpoint::Create) {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    if !inner
        .prs
        .iter()
        .any(|(o, r, p)| *o == owner && *r == repo && *p == pr)
    {
        return error(StatusCode::NOT_FOUND, "Not Found");
    }
    if matches!(identity, Identity::Workflow { read_only: true }) {
        return error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
    }
    let Some(body) = payload.get("body").and_then(Value::as_str) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: body is missing",
        );
    };
    if body.chars().count() > 65_536 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Body is too long (maximum is 65536 characters)",
        );
    }
    let comment = store(&mut inner, &owner, &repo, pr, &login_of(&identity), body);
    let after_store = inner
        .faults
        .iter()
        .position(|(m, f)| *m == Endpoint::Create && matches!(f, Fault::BadGatewayAfterStore));
    if let Some(i) = after_store {
        inner.faults.remove(i);
        return (StatusCode::BAD_GATEWAY, "<html>502 Bad Gateway</html>").into_response();
    }
    (StatusCode::CREATED, Json(to_json(&comment))).into_response()
}

async fn update_comment(
    State(state): State<Shared>,
    Path((owner, repo, id)): Path<(String, String, u64)>,
    headers: HeaderMap,
    Json(payload): Json<Value>,
) -> Response {
    let mut inner = state.lock().unwrap();
    let identity = match gate(&mut inner, &headers, Endpoint::Update) {
        Ok(identity) => identity,
        Err(response) => return response,
    };
    if matches!(identity, Identity::Workflow { read_only: true }) {
        return error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        );
    }
    let Some(body) = payload
        .get("body")
        .and_then(Value::as_str)
        .map(String::from)
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid request: body is missing",
        );
    };
    if body.chars().count() > 65_536 {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Body is too long (maximum is 65536 characters)",
        );
    }
    let Some(comment) = inner
        .comments
        .iter_mut()
        .find(|c| c.id == id && c.owner == owner && c.repo == repo)
    else {
        return error(StatusCode::NOT_FOUND, "Not Found");
    };
    comment.body = body;
    Json(to_json(comment)).into_response()
}
