//! One account of the approval flow: docs/baselines.md and docs/action.md say what
//! `.github/workflows/example-approve.yml` does. The facts are read from the workflow itself
//! (its jobs' environment and permissions, where the commit job pushes, the flags its approve
//! step passes, the inputs it takes), and each must be stated in the prose, and no sentence may
//! state the opposite; each flag must also be one `modelgate baseline approve` accepts.

use crate::support::{modelgate, root, stdout};

use yaml_rust2::{Yaml, YamlLoader};

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

/// The docs' text with line breaks (and markdown's hard wraps) turned into spaces.
fn prose(path: &str) -> String {
    read(path).split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `run:` scripts of a job's steps, joined.
fn scripts(job: &Yaml) -> String {
    job["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|step| step["run"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `--flags` of the `modelgate baseline approve` command in `script` (continuation lines
/// joined).
fn approve_flags(script: &str) -> Vec<String> {
    let joined = script.replace("\\\n", " ");
    let command = joined
        .lines()
        .find(|l| l.contains("modelgate baseline approve"))
        .expect("the workflow runs modelgate baseline approve");
    command
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_approval_docs_say_what_the_approve_workflow_does() {
    let workflow =
        &YamlLoader::load_from_str(&read(".github/workflows/example-approve.yml")).unwrap()[0];
    let jobs = &workflow["jobs"];
    let (measure, commit) = (&jobs["measure"], &jobs["commit"]);
    let baselines = prose("docs/baselines.md");
    let action = prose("docs/action.md");
    let both = [
        ("docs/baselines.md", &baselines),
        ("docs/action.md", &action),
    ];

    // The commit job's environment is the approval; both pages name it.
    let environment = commit["environment"].as_str().unwrap();
    assert_eq!(environment, "modelgate-baselines");
    for (page, text) in both {
        assert!(
            text.contains(&format!("`{environment}`")),
            "{page} does not name the {environment} environment"
        );
        assert!(text.contains("Prevent self-review"), "{page}");
    }

    // The commit job pushes to the pull request's base branch (the measure job's `base` output,
    // the pull request's base ref), never to the pull request's own branch.
    let push = scripts(commit);
    assert!(
        push.contains("push origin \"HEAD:refs/heads/$BRANCH\""),
        "{push}"
    );
    let branch = commit["steps"]
        .as_vec()
        .unwrap()
        .iter()
        .find_map(|s| s["env"]["BRANCH"].as_str())
        .unwrap();
    assert_eq!(branch, "${{ needs.measure.outputs.base }}");
    let lookup = scripts(measure);
    assert!(lookup.contains(".base.ref") && lookup.contains("echo \"base=$base_ref\""));
    for (page, text) in both {
        assert!(
            text.contains("to the base branch") || text.contains("to the **base branch**"),
            "{page} does not say the baseline is committed to the base branch"
        );
        for wrong in [
            "to the pull request's branch",
            "refuses forks",
            "refuses pull requests from forks",
            "re-run the pull request's gate",
        ] {
            assert!(!text.contains(wrong), "{page} says the workflow {wrong}");
        }
    }

    // The measure job refuses the pull request's author; both pages say so.
    assert!(
        lookup.contains("\"${author,,}\" == \"${ACTOR,,}\""),
        "{lookup}"
    );
    assert!(baselines.contains("refuses a run started by the pull request's author"));
    assert!(action.contains("refuses a run started by its author"));

    // The flags the approve step passes: each accepted by the real command, each named by
    // the pages, and `--force` never passed (the pages say so).
    let flags = approve_flags(&lookup);
    let help = stdout(&modelgate(&["baseline", "approve", "--help"]));
    for flag in &flags {
        assert!(
            help.contains(flag.as_str()),
            "{flag} is not a flag of baseline approve:\n{help}"
        );
    }
    for flag in [
        "--candidate-ref",
        "--expect-sha256",
        "--from-results",
        "--yes",
    ] {
        assert!(
            flags.iter().any(|f| f == flag),
            "the workflow no longer passes {flag}"
        );
        assert!(
            action.contains(flag) || baselines.contains(flag),
            "no page names {flag}"
        );
    }
    assert!(!flags.iter().any(|f| f == "--force"));
    assert!(baselines.contains("The approve workflow never passes `--force`"));

    // Its inputs and each job's permissions, as docs/action.md lists them.
    let inputs = workflow["on"]["workflow_dispatch"]["inputs"]
        .as_hash()
        .unwrap();
    assert_eq!(inputs.len(), 3);
    assert!(
        action.contains("with three inputs: the pull request, the model's name, and the SHA-256")
    );
    let permissions = |job: &Yaml| {
        let mut list: Vec<String> = job["permissions"]
            .as_hash()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("`{}: {}`", k.as_str().unwrap(), v.as_str().unwrap()))
            .collect();
        list.sort();
        list
    };
    for (name, job) in [("measure", measure), ("commit", commit)] {
        for permission in permissions(job) {
            let said = action
                .split(&format!("**{name}** ("))
                .nth(1)
                .and_then(|rest| rest.split_once(')'))
                .map(|(list, _)| list.to_string())
                .unwrap_or_default();
            assert!(
                said.contains(&permission),
                "docs/action.md's {name} job does not list {permission} (says: {said})"
            );
        }
    }
    // The pull request passes after the baseline lands on the base branch: a new push, not a
    // re-run of an old run.
    for (page, text) in both {
        assert!(text.contains("close and reopen"), "{page}");
    }
}
