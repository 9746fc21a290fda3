//! What needs a person's attention, through the real server: mentions (by name and to
//! everyone), their counts per conversation and the list of one's mentions, each following
//! edits, reads and who may read the conversation.

use crate::harness::{conversation, enc, s, Client, Server};
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

/// (unread, mentions) of conversation `id` for the caller.
fn counts(client: &mut Client, id: &str) -> (u64, u64) {
    let item = conversation(client, id);
    let n = |k| item.get(k).and_then(Json::as_u64).expect(k);
    (n("unread"), n("mentions"))
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

fn pin_path(channel: &str, message: &Json) -> String {
    format!(
        "/api/channels/{}/messages/{}/pin",
        enc(channel),
        enc(s(message, "id"))
    )
}

/// (pinned, count) of a pin or unpin answer, asserting 200.
fn pin_answer(res: crate::harness::Response) -> (bool, u64) {
    assert_eq!(res.status, 200, "{}", res.text());
    let body = res.json();
    (
        body.get("pinned") == Some(&Json::Bool(true)),
        body.get("count").and_then(Json::as_u64).expect("count"),
    )
}

fn pins_event(ws: &mut crate::harness::Ws) -> (String, u64) {
    let event = ws.expect_event("pins");
    (
        s(&event, "channel").to_owned(),
        event.get("count").and_then(Json::as_u64).expect("count"),
    )
}

#[test]
fn pins_are_shared_live_checked_and_go_with_their_message() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut carol = server.signup("carol");
    let mut carol_ws = carol.ws();
    let plan = alice.say("general", "plan A");
    let other = alice.say("general", "plan B");

    // Anyone who reads the channel pins; everyone who reads it hears of it.
    assert_eq!(
        pin_answer(bob.post(&pin_path("general", &plan), &Json::obj([]))),
        (true, 1)
    );
    assert_eq!(pins_event(&mut carol_ws), ("general".into(), 1));
    assert_eq!(
        pin_answer(bob.post(&pin_path("general", &plan), &Json::obj([]))),
        (true, 1)
    );
    let pins = list(&mut carol, "/api/channels/general/pins");
    assert_eq!(texts(&pins), ["plan A"]);
    assert_eq!(s(&pins[0], "pinned_by"), "bob");
    assert_eq!(counts_pins(&mut carol, "general"), 1);
    assert_eq!(
        pin_answer(carol.post(&pin_path("general", &other), &Json::obj([]))),
        (true, 2)
    );
    assert_eq!(
        texts(&list(&mut alice, "/api/channels/general/pins")),
        ["plan B", "plan A"]
    );
    assert_eq!(
        pin_answer(alice.delete(&pin_path("general", &other))),
        (false, 1)
    );
    assert_eq!(
        texts(&list(&mut bob, "/api/channels/general/pins")),
        ["plan A"]
    );

    // Deleting the message takes its pin with it, live.
    let _ = pins_event(&mut carol_ws);
    let _ = pins_event(&mut carol_ws);
    let res = alice.delete(&format!(
        "/api/channels/general/messages/{}",
        enc(s(&plan, "id"))
    ));
    assert_eq!(res.status, 204);
    assert_eq!(pins_event(&mut carol_ws), ("general".into(), 0));
    assert!(list(&mut bob, "/api/channels/general/pins").is_empty());
    assert_eq!(counts_pins(&mut bob, "general"), 0);
    assert_eq!(
        bob.post(&pin_path("general", &plan), &Json::obj([])).status,
        404
    );

    // Access: a private channel and a DM one cannot read refuse pinning and the list.
    let created = alice.post(
        "/api/private-channels",
        &Json::obj([
            ("name", "ops".into()),
            ("members", Json::Arr(vec!["bob".into()])),
        ]),
    );
    assert_eq!(created.status, 201);
    let ops = s(&created.json(), "id").to_owned();
    let secret = alice.say(&ops, "the secret");
    let dm = alice.say("dm:alice:bob", "between us");
    assert_eq!(
        carol.post(&pin_path(&ops, &secret), &Json::obj([])).status,
        404
    );
    assert_eq!(
        carol
            .get(&format!("/api/channels/{}/pins", enc(&ops)))
            .status,
        404
    );
    assert_eq!(
        carol
            .post(&pin_path("dm:alice:bob", &dm), &Json::obj([]))
            .status,
        403
    );
    assert_eq!(carol.get("/api/channels/dm%3Aalice%3Abob/pins").status, 403);
    carol_ws.expect_no_event("pins", std::time::Duration::from_millis(300));
    // Notices are not pinned; an unknown message is 404; no session is 401.
    let notice = &alice.messages(&ops)[0];
    let res = alice.post(&pin_path(&ops, notice), &Json::obj([]));
    assert_eq!(res.status, 400, "{}", res.text());
    assert!(res.text().contains("Notices cannot be pinned"));
    let res = alice.post(
        &format!("/api/channels/{}/messages/1.5/pin", enc(&ops)),
        &Json::obj([]),
    );
    assert_eq!(res.status, 404);
    assert_eq!(
        server
            .request("GET", "/api/channels/general/pins", &[], b"")
            .status,
        401
    );

    // A hard-deleted account's messages leave the pins with them.
    let bobs = bob.say(&ops, "bob's note");
    assert_eq!(
        pin_answer(alice.post(&pin_path(&ops, &bobs), &Json::obj([]))),
        (true, 1)
    );
    assert_eq!(
        pin_answer(alice.post(&pin_path(&ops, &secret), &Json::obj([]))),
        (true, 2)
    );
    let res = bob.post(
        "/api/account/delete",
        &Json::obj([
            ("mode", "hard".into()),
            ("password", crate::harness::PASSWORD.into()),
        ]),
    );
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(
        texts(&list(
            &mut alice,
            &format!("/api/channels/{}/pins", enc(&ops))
        )),
        ["the secret"]
    );
    assert_eq!(counts_pins(&mut alice, &ops), 1);
}

/// The pin count of conversation `id` for the caller.
fn counts_pins(client: &mut Client, id: &str) -> u64 {
    conversation(client, id)
        .get("pins")
        .and_then(Json::as_u64)
        .expect("pins")
}

/// The notification `level` of conversation `id` for the caller.
fn level(client: &mut Client, id: &str) -> String {
    s(&conversation(client, id), "level").to_owned()
}

#[test]
fn notification_levels_and_do_not_disturb_are_ones_own_and_reach_every_tab() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let mut second_tab = alice.ws();
    let mut bobs_tab = bob.ws();
    assert_eq!(
        alice.get("/api/notifications").json().to_json_string(),
        r#"{"dnd":false,"levels":{}}"#
    );
    assert_eq!(level(&mut alice, "general"), "all");

    let res = alice.put(
        "/api/channels/general/notifications",
        &Json::obj([("level", "muted".into())]),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json().to_json_string(),
        r#"{"dnd":false,"levels":{"general":"muted"}}"#
    );
    let event = second_tab.expect_event("notifications");
    assert_eq!(
        event.get("choices").map(Json::to_json_string).as_deref(),
        Some(r#"{"dnd":false,"levels":{"general":"muted"}}"#)
    );
    assert_eq!(level(&mut alice, "general"), "muted");
    assert_eq!(level(&mut bob, "general"), "all", "levels are one's own");
    bobs_tab.expect_no_event("notifications", std::time::Duration::from_millis(300));

    alice.say("dm:alice:bob", "hi");
    let res = alice.put(
        "/api/channels/dm%3Aalice%3Abob/notifications",
        &Json::obj([("level", "mentions".into())]),
    );
    assert_eq!(res.status, 200);
    second_tab.expect_event("notifications");
    let res = alice.put(
        "/api/notifications",
        &Json::obj([("dnd", Json::Bool(true))]),
    );
    assert_eq!(
        res.json().to_json_string(),
        r#"{"dnd":true,"levels":{"dm:alice:bob":"mentions","general":"muted"}}"#
    );
    assert_eq!(
        second_tab
            .expect_event("notifications")
            .get("choices")
            .and_then(|c| c.get("dnd"))
            .cloned(),
        Some(Json::Bool(true)),
    );
    // Back to "all" forgets the choice.
    let res = alice.put(
        "/api/channels/general/notifications",
        &Json::obj([("level", "all".into())]),
    );
    assert_eq!(
        res.json().to_json_string(),
        r#"{"dnd":true,"levels":{"dm:alice:bob":"mentions"}}"#
    );

    // Refused: a conversation one cannot read, an unknown level, a body that is not one.
    let created = bob.post(
        "/api/private-channels",
        &Json::obj([("name", "bobs".into()), ("members", Json::Arr(vec![]))]),
    );
    let bobs = s(&created.json(), "id").to_owned();
    let res = alice.put(
        &format!("/api/channels/{}/notifications", enc(&bobs)),
        &Json::obj([("level", "muted".into())]),
    );
    assert_eq!(res.status, 404);
    let res = alice.put(
        "/api/channels/dm%3Abob%3Acarol/notifications",
        &Json::obj([("level", "muted".into())]),
    );
    assert_eq!(res.status, 403);
    let res = alice.put(
        "/api/channels/general/notifications",
        &Json::obj([("level", "loud".into())]),
    );
    assert_eq!(res.status, 400);
    assert!(
        res.text().contains("\\\"level\\\" must be"),
        "{}",
        res.text()
    );
    let res = alice.put("/api/notifications", &Json::obj([("dnd", "yes".into())]));
    assert_eq!(res.status, 400);
    assert!(res.text().contains("{\\\"dnd\\\": true}"), "{}", res.text());
    assert_eq!(
        server.request("GET", "/api/notifications", &[], b"").status,
        401
    );
}

#[test]
fn reading_up_to_a_message_leaves_the_later_ones_unread() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    let mut bob = server.signup("bob");
    let first = alice.say("general", "one");
    alice.say("general", "two @bob");
    assert_eq!(counts(&mut bob, "general"), (2, 1));
    let res = bob.post(
        &format!("/api/channels/general/read?up_to={}", enc(s(&first, "id"))),
        &Json::obj([]),
    );
    assert_eq!(res.status, 204, "{}", res.text());
    assert_eq!(
        counts(&mut bob, "general"),
        (1, 1),
        "what was not on screen stays unread"
    );
    let res = bob.post("/api/channels/general/read?up_to=soon", &Json::obj([]));
    assert_eq!(res.status, 400);
    assert!(res.text().contains("\\\"up_to\\\" must be a message id"));
    assert_eq!(
        bob.post("/api/channels/general/read", &Json::obj([]))
            .status,
        204
    );
    assert_eq!(counts(&mut bob, "general"), (0, 0));
}

#[test]
fn listings_refuse_a_bad_limit_or_before_in_words() {
    let server = Server::start();
    let mut alice = server.signup("alice");
    for path in [
        "/api/mentions?limit=0",
        "/api/mentions?limit=201",
        "/api/channels/general/messages?limit=abc",
    ] {
        let res = alice.get(path);
        assert_eq!(res.status, 400, "{path}");
        assert!(
            res.text()
                .contains("\\\"limit\\\" must be a number from 1 to"),
            "{path}: {}",
            res.text()
        );
    }
    for path in [
        "/api/mentions?before=soon",
        "/api/channels/general/messages?before=soon",
    ] {
        let res = alice.get(path);
        assert_eq!(res.status, 400, "{path}");
        assert!(
            res.text().contains("\\\"before\\\" must be a message id"),
            "{path}: {}",
            res.text()
        );
    }
    assert_eq!(alice.get("/api/mentions?limit=200").status, 200);
}
