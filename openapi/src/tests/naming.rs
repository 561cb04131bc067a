use serde_json::json;

use super::*;
use crate::naming::{base_name, name_from_path, sanitize, truncate, Namer, MAX_NAME_LEN};

fn ops(ids: &[Option<&str>]) -> ApiSpec {
    let mut paths = serde_json::Map::new();
    for (i, id) in ids.iter().enumerate() {
        let mut op = json!({"responses": {"200": {"description": "ok"}}});
        if let Some(id) = id {
            op["operationId"] = json!(id);
        }
        paths.insert(format!("/p{i}"), json!({ "get": op }));
    }
    spec(oas30(serde_json::Value::Object(paths), json!({})))
}

#[test]
fn operation_ids_are_sanitized_and_keep_their_case() {
    assert_eq!(sanitize("find pet by id"), "find_pet_by_id");
    assert_eq!(sanitize("Pets/List:all"), "Pets_List_all");
    assert_eq!(sanitize("a.b-c_D9"), "a.b-c_D9");
    assert_eq!(sanitize("café"), "caf_");
    let s = ops(&[Some("getPetById"), Some("find pet by id"), Some("ListPets")]);
    assert_eq!(names(&s), ["getPetById", "find_pet_by_id", "ListPets"]);
}

#[test]
fn names_without_operation_id_come_from_method_and_path() {
    assert_eq!(name_from_path("GET", "/pets/{petId}"), "get_pets_petId");
    assert_eq!(
        name_from_path("post", "/chat.postMessage"),
        "post_chat_postMessage"
    );
    assert_eq!(name_from_path("get", "/"), "get");
    assert_eq!(
        name_from_path("get", "/cookies#formExploded"),
        "get_cookies_formExploded"
    );
    assert_eq!(base_name(Some("  "), "get", "/a"), "get_a");
    let s = spec(oas30(
        json!({"/pets/{petId}": {"get": {"responses": {}}, "delete": {"operationId": "", "responses": {}}}}),
        json!({}),
    ));
    // (`json!` sorts keys, so `delete` comes first in this document.)
    assert_eq!(names(&s), ["delete_pets_petId", "get_pets_petId"]);
}

#[test]
fn long_names_are_truncated_deterministically() {
    let long_a = format!("{}A", "x".repeat(100));
    let long_b = format!("{}B", "x".repeat(100));
    let a = truncate(&long_a, MAX_NAME_LEN);
    let b = truncate(&long_b, MAX_NAME_LEN);
    assert_eq!(a.len(), 64);
    assert_eq!(b.len(), 64);
    assert_ne!(a, b, "the hash tells them apart");
    assert_eq!(a, truncate(&long_a, MAX_NAME_LEN), "deterministic");
    assert!(a.starts_with(&"x".repeat(55)));
    assert_eq!(truncate("short", 64), "short");
    let exactly = "y".repeat(64);
    assert_eq!(base_name(Some(&exactly), "get", "/"), exactly);
    let s = ops(&[Some(&long_a), Some(&long_b)]);
    assert_eq!(names(&s), [a, b]);
}

#[test]
fn duplicates_get_numbered_suffixes_in_document_order() {
    let s = ops(&[
        Some("dup"),
        Some("dup"),
        Some("dup_2"),
        Some("dup"),
        Some("du p"),
    ]);
    // `dup_2` is taken by the second `dup` first, so the explicit one becomes `dup_2_2`.
    assert_eq!(names(&s), ["dup", "dup_2", "dup_2_2", "dup_3", "du_p"]);

    // Suffixed names stay within 64 characters.
    let mut namer = Namer::default();
    let long = "z".repeat(64);
    assert_eq!(namer.unique(long.clone()), long);
    let second = namer.unique(long.clone());
    assert!(second.len() <= 64 && second.ends_with("_2"), "{second}");
    let third = namer.unique(long);
    assert!(third.len() <= 64 && third.ends_with("_3"), "{third}");
}
