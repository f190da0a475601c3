//! The lab's pattern guides (`docs/patterns/`, French), built into the binary so the web
//! UI's Lab panel lists and shows them wherever the platform runs (issue 22, part 5):
//!
//! - `GET /api/v1/lab/guides` → every guide: id, title, the first paragraph;
//! - `GET /api/v1/lab/guides/{guide}` → one guide's Markdown (404 naming an unknown guide).
//!
//! The guides' exercises are run against a real platform by
//! `crates/edalab/tests/edalab/guides.rs`; this module only serves the text.

use axum::Json;
use axum::extract::Path;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::router::AppState;

/// Every guide, in the suggested order: (id = file stem, Markdown).
const GUIDES: [(&str, &str); 12] = [
    ("README", include_str!("../../../docs/patterns/README.md")),
    (
        "01-pub-sub",
        include_str!("../../../docs/patterns/01-pub-sub.md"),
    ),
    (
        "02-event-sourcing",
        include_str!("../../../docs/patterns/02-event-sourcing.md"),
    ),
    (
        "03-partitions",
        include_str!("../../../docs/patterns/03-partitions.md"),
    ),
    (
        "04-retries-dlq",
        include_str!("../../../docs/patterns/04-retries-dlq.md"),
    ),
    (
        "05-idempotence",
        include_str!("../../../docs/patterns/05-idempotence.md"),
    ),
    (
        "06-outbox",
        include_str!("../../../docs/patterns/06-outbox.md"),
    ),
    ("07-saga", include_str!("../../../docs/patterns/07-saga.md")),
    (
        "08-circuit-breaker",
        include_str!("../../../docs/patterns/08-circuit-breaker.md"),
    ),
    ("09-cqrs", include_str!("../../../docs/patterns/09-cqrs.md")),
    (
        "10-schema-evolution",
        include_str!("../../../docs/patterns/10-schema-evolution.md"),
    ),
    (
        "11-queue-vs-log",
        include_str!("../../../docs/patterns/11-queue-vs-log.md"),
    ),
];

/// A guide in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabGuideSummary {
    /// The file stem under `docs/patterns/` (`README` is the index).
    pub id: String,
    /// The guide's `#` heading.
    pub title: String,
    /// Its first paragraph.
    pub summary: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabGuides {
    pub guides: Vec<LabGuideSummary>,
}

/// One guide's text.
#[derive(Debug, Serialize, ToSchema)]
pub struct LabGuide {
    pub id: String,
    pub title: String,
    /// The whole guide, Markdown (French).
    pub markdown: String,
}

#[derive(OpenApi)]
#[openapi(
    tags((name = "lab", description = "The lab's pattern guides (French), for the UI's Lab panel")),
    components(schemas(LabGuides, LabGuideSummary, LabGuide))
)]
struct LabDoc;

/// The lab routes, merged into the gateway's own list.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(LabDoc::openapi())
        .routes(routes!(list_guides))
        .routes(routes!(get_guide))
}

fn title(markdown: &str) -> &str {
    markdown
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or_default()
        .trim()
}

/// The first paragraph of prose after the title: lines up to a blank line, none a heading
/// or a fence.
fn summary(markdown: &str) -> String {
    let prose = |l: &&str| !l.starts_with('#') && !l.starts_with("```") && !l.starts_with('|');
    let lines = markdown
        .lines()
        .skip_while(|l| !l.starts_with("# "))
        .skip(1);
    let mut lines = lines.skip_while(|l| l.trim().is_empty() || !prose(l));
    let mut paragraph: Vec<&str> = Vec::new();
    for line in lines.by_ref() {
        if line.trim().is_empty() || !prose(&line) {
            break;
        }
        paragraph.push(line.trim());
    }
    paragraph.join(" ")
}

/// The pattern guides, in the suggested order (the index first).
#[utoipa::path(
    get,
    path = "/api/v1/lab/guides",
    tag = "lab",
    responses((status = 200, description = "The guides", body = LabGuides))
)]
async fn list_guides() -> Json<LabGuides> {
    let guides = GUIDES
        .iter()
        .map(|(id, markdown)| LabGuideSummary {
            id: (*id).to_owned(),
            title: title(markdown).to_owned(),
            summary: summary(markdown),
        })
        .collect();
    Json(LabGuides { guides })
}

/// One guide's Markdown.
#[utoipa::path(
    get,
    path = "/api/v1/lab/guides/{guide}",
    tag = "lab",
    params(("guide" = String, Path, description = "A guide's id from the list, e.g. `01-pub-sub`")),
    responses(
        (status = 200, description = "The guide", body = LabGuide),
        (status = 404, description = "No such guide", body = ErrorBody),
    )
)]
async fn get_guide(Path(guide): Path<String>) -> Result<Json<LabGuide>, ApiError> {
    let Some((id, markdown)) = GUIDES.iter().find(|(known, _)| *known == guide) else {
        let known: Vec<&str> = GUIDES.iter().map(|(id, _)| *id).collect();
        return Err(ApiError::not_found(format!(
            "no guide `{guide}` (guides: {})",
            known.join(", ")
        )));
    };
    Ok(Json(LabGuide {
        id: (*id).to_owned(),
        title: title(markdown).to_owned(),
        markdown: (*markdown).to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_guides_folder_is_served() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/patterns");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("docs/patterns")
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".md").map(str::to_owned)
            })
            .collect();
        on_disk.sort();
        let mut served: Vec<String> = GUIDES.iter().map(|(id, _)| (*id).to_owned()).collect();
        served.sort();
        assert_eq!(served, on_disk);
    }

    #[test]
    fn each_guide_has_a_title_and_a_summary() {
        for (id, markdown) in GUIDES {
            assert!(!title(markdown).is_empty(), "{id} has no `# ` title");
            let summary = summary(markdown);
            assert!(summary.len() > 40, "{id}: summary `{summary}`");
            assert!(!summary.contains("```"), "{id}: {summary}");
        }
        assert_eq!(
            summary("# T\n\n## Le problème\n\nUne ligne\net la suite.\n\nAutre."),
            "Une ligne et la suite."
        );
    }
}
