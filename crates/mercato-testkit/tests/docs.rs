//! docs/testing.md shows `tests/example.rs` unchanged.

#[test]
fn testing_doc_shows_the_example_test() {
    let doc = include_str!("../../../docs/testing.md");
    let example = include_str!("example.rs");
    assert!(
        doc.contains(&format!("```rust\n{example}```")),
        "docs/testing.md does not show tests/example.rs verbatim"
    );
}
