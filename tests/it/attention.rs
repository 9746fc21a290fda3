//! What needs a person's attention, through the real server: mentions (by name and to
//! everyone), their counts per conversation and the list of one's mentions, each following
//! edits, reads and who may read the conversation.

use crate::harness::{enc, s, Client, Server};
use crate::json::Json;

fn list(client: &mut Client, path: &str) -> Vec<Json> {
    let res = client.get(path);
    assert_eq!(res.status, 200, "{path}: {}", res.text());
    match res.json() {
        Json::Arr(items) => items,
        other => panic!("{path}: not a list: {}", other.to_json_string()),
    }
}

fn texts(messages: &[Json]) -> Vec<String> {
    messages.iter().map(|m| s(m, "text").to_owned()).collect()
}

/// (unread, mentions) of conversation `id` in the caller's `GET /api/channels`.
fn counts(client: &mut Client, id: &str) -> (u64, u64) {
    let res = client.get("/api/channels");
    assert_eq!(res.status, 200);
    let all = res.json();
    for group in ["public", "private", "dms"] {
        let Some(Json::Arr(items)) = all.get(group) else {
            continue;
        };
        for item in items {
            if item.get("id").and_then(Json::as_str) == Some(id) {
                let n = |k| item.get(k).and_then(Json::as_u64).expect(k);
                return (n("unread"), n("mentions"));
            }
        }
    }
    panic!("{id} is not in {}", all.to_json_string())
}

#[test]
fn mentions_are_counted_listed_and_follow_edits_reads_and_access() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let named = alice.say("general", "@Bob look at this");
    assert_eq!(named.get("mentions"), Some(&Json::Arr(vec!["bob".into()])));
    let everyone = alice.say("general", "@everyone standup in 5");
    assert_eq!(
        everyone.get("mentions"),
        Some(&Json::Arr(vec!["@everyone".into()]))
    );
    alice.say(
        "general",
        "just chatting, mail@bob.example is not a mention",
    );
    alice.say("dm:alice:bob", "a direct message");
    let created = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "plans".into()),
            ("members", Json::Arr(vec!["carol".into()])),
        ]),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let plans = s(&created.json(), "id").to_owned();
    alice.say(&plans, "@carol and @here: the secret plan");
    // Bob's own message mentioning himself does not count.
    bob.say("general", "note to self @bob");

    assert_eq!(counts(&mut bob, "general"), (3, 2));
    assert_eq!(counts(&mut bob, "dm:alice:bob"), (1, 0));
    assert_eq!(counts(&mut carol, "general"), (4, 1));
    assert_eq!(counts(&mut carol, &plans), (2, 1));
    let mentions = list(&mut bob, "/api/mentions");
    assert_eq!(
        texts(&mentions),
        ["@everyone standup in 5", "@Bob look at this"],
        "newest first, only bob's"
    );
    assert!(mentions
        .iter()
        .all(|m| m.get("unread") == Some(&Json::Bool(true))));
    assert_eq!(
        texts(&list(&mut carol, "/api/mentions")),
        [
            "@carol and @here: the secret plan",
            "@everyone standup in 5"
        ]
    );
    // Pages: older than a message id, and a limit.
    let newest = s(&mentions[0], "id").to_owned();
    assert_eq!(
        texts(&list(&mut bob, &format!("/api/mentions?before={newest}"))),
        ["@Bob look at this"]
    );
    assert_eq!(
        texts(&list(&mut bob, "/api/mentions?limit=1")),
        ["@everyone standup in 5"]
    );

    // Reading the conversation clears its mention count; the list keeps them, read.
    assert_eq!(
        bob.post("/api/channels/general/read", &Json::obj([]))
            .status,
        204
    );
    assert_eq!(counts(&mut bob, "general"), (0, 0));
    assert!(list(&mut bob, "/api/mentions")
        .iter()
        .all(|m| m.get("unread") == Some(&Json::Bool(false))));

    // An edit that drops the mention drops it from the list.
    let id = s(&named, "id").to_owned();
    let res = alice.patch(
        &format!("/api/channels/general/messages/{}", enc(&id)),
        &Json::obj([("text", "look at this".into())]),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json().get("mentions"), Some(&Json::Arr(vec![])));
    assert_eq!(
        texts(&list(&mut bob, "/api/mentions")),
        ["@everyone standup in 5"]
    );

    // Removed from the private channel, carol no longer sees her mention there.
    let n = plans.trim_start_matches("private:");
    let res = alice.delete(&format!("/api/private-channels/{n}/members/carol"));
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(
        texts(&list(&mut carol, "/api/mentions")),
        ["@everyone standup in 5"]
    );

    // Bad input gets a 400 that says what to send; no session, a 401.
    for query in ["limit=0", "limit=201", "limit=x", "before=yesterday"] {
        let res = bob.get(&format!("/api/mentions?{query}"));
        assert_eq!(res.status, 400, "{query}");
        assert!(res.text().contains("must be"), "{query}: {}", res.text());
    }
    assert_eq!(server.request("GET", "/api/mentions", &[], b"").status, 401);
}
