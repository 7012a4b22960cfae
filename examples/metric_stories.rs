//! Prints a recorded metrics story (see `tests/common/stories.rs` for how
//! each was generated) as OpenMetrics, for `tests/cluster/backfill`:
//!
//! ```sh
//! cargo run --example metric_stories -- vllm-v1-kv-saturation llm-demo qwen-0 vllm [END_UNIX_SECONDS] > story.om
//! tests/cluster/backfill story.om
//! ```
//!
//! With no END the story ends now.

#[path = "../tests/common/stories.rs"]
mod stories;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [story, namespace, pod, container, rest @ ..] = args.as_slice() else {
        eprintln!(
            "usage: metric_stories STORY NAMESPACE POD CONTAINER [END]\nstories: {}",
            stories::STORIES.join(", ")
        );
        return std::process::ExitCode::from(2);
    };
    let end = match rest.first() {
        Some(e) => match e.parse::<f64>() {
            Ok(e) => e.floor(),
            Err(_) => {
                eprintln!("END must be unix seconds, got {e:?}");
                return std::process::ExitCode::from(2);
            }
        },
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs() as f64),
    };
    let labels = stories::PodLabels { namespace: namespace.clone(), pod: pod.clone(), container: container.clone() };
    match stories::openmetrics(story, &labels, end) {
        Some(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        None => {
            eprintln!("unknown story {story:?}; stories: {}", stories::STORIES.join(", "));
            std::process::ExitCode::from(2)
        }
    }
}
