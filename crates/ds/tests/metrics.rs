//! The DS's metrics at `GET /metrics` (Prometheus text format) after real requests: requests
//! by matched route and status, commits accepted and refused by reason, store latencies,
//! and the WebSocket gauges and wake-ups. SQLite only: the counting is the same on both
//! engines.

// Test code: a panic is a test failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use conclave_api::delivery::CommitBundle;
use conclave_core::group::{CommitOptions, Group, MemberParams, NewGroup};
use futures_util::StreamExt as _;

use common::{Api, SUITE, env, identity, rng, sqlite_store, unique};

/// The metrics text, served by the DS's own router.
async fn metrics(api: &Api) -> String {
    let r = api.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    String::from_utf8(r.body).unwrap()
}

#[track_caller]
fn assert_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_commits_and_store_operations_are_counted() {
    let (store, _dir) = sqlite_store();
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice_id = unique("alice");
    let alice = identity(&alice_id, &mut rng);
    let alice_token = api.register_and_login(&alice_id, &alice).await;
    let bob_id = unique("bob");
    let bob = identity(&bob_id, &mut rng);
    let bob_token = api.register_and_login(&bob_id, &bob).await;

    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut group = Group::create(
        MemberParams::new(env(), alice.clone()),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    let r = api
        .post_json(
            "/v1/groups",
            Some(&alice_token),
            serde_json::json!({"group_id": gid}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let out = group
        .commit(&CommitOptions::default(), now, &mut rng)
        .unwrap();
    let bundle = CommitBundle {
        commit: out.commit.clone(),
        welcome: None,
        group_info: out.group_info.clone(),
        ratchet_tree: None,
        members: vec![alice_id.as_bytes().to_vec()],
        allow_external_join: None,
    };
    // Accepted; then refused: the epoch moved on (wrong_epoch), a stranger (not_found, as
    // for a group that does not exist), a bundle naming no member (bad_request).
    assert_eq!(
        api.post_bundle(&alice_token, &gid, &bundle).await.status,
        StatusCode::OK
    );
    api.post_bundle(&alice_token, &gid, &bundle)
        .await
        .assert_error(StatusCode::CONFLICT, "wrong_epoch");
    group.merge_pending_commit().unwrap();
    let next = group
        .commit(&CommitOptions::default(), now, &mut rng)
        .unwrap();
    let next_bundle = CommitBundle {
        commit: next.commit.clone(),
        group_info: next.group_info.clone(),
        ..bundle.clone()
    };
    api.post_bundle(&bob_token, &gid, &next_bundle)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    let mut no_members = next_bundle.clone();
    no_members.members.clear();
    api.post_bundle(&alice_token, &gid, &no_members)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "bad_request");
    // Two reads, an unknown path, and no token.
    for _ in 0..2 {
        assert_eq!(
            api.get(&format!("/v1/groups/{gid}"), Some(&alice_token))
                .await
                .status,
            StatusCode::OK
        );
    }
    api.get("/v1/nothing-here", None)
        .await
        .assert_error(StatusCode::NOT_FOUND, "not_found");
    api.get(&format!("/v1/groups/{gid}"), None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "unauthorized");

    let text = metrics(&api).await;
    assert_lines(
        &text,
        &[
            r#"conclave_ds_http_requests_total{route="/v1/groups/{group}/commits",method="POST",status="200"} 1"#,
            r#"conclave_ds_http_requests_total{route="/v1/groups/{group}/commits",method="POST",status="409"} 1"#,
            r#"conclave_ds_http_requests_total{route="/v1/groups/{group}/commits",method="POST",status="404"} 1"#,
            r#"conclave_ds_http_requests_total{route="/v1/groups/{group}/commits",method="POST",status="400"} 1"#,
            r#"conclave_ds_http_requests_total{route="/v1/groups",method="POST",status="201"} 1"#,
            r#"conclave_ds_http_requests_total{route="/v1/groups/{group}",method="GET",status="200"} 2"#,
            r#"conclave_ds_http_requests_total{route="/v1/groups/{group}",method="GET",status="401"} 1"#,
            r#"conclave_ds_http_requests_total{route="unmatched",method="GET",status="404"} 1"#,
            r#"conclave_ds_http_request_duration_seconds_count{route="/v1/groups/{group}/commits",method="POST"} 4"#,
            "conclave_ds_commits_accepted_total 1",
            r#"conclave_ds_commits_refused_total{reason="wrong_epoch"} 1"#,
            r#"conclave_ds_commits_refused_total{reason="not_found"} 1"#,
            r#"conclave_ds_commits_refused_total{reason="bad_request"} 1"#,
            // The store saw the three bundles that passed the checks.
            r#"conclave_ds_store_operation_duration_seconds_count{operation="commit"} 3"#,
            r#"conclave_ds_store_operation_duration_seconds_count{operation="create_group"} 1"#,
            "conclave_ds_websockets_open 0",
        ],
    );
    // The request for /metrics itself is counted once the answer is out.
    let again = metrics(&api).await;
    assert_lines(
        &again,
        &[r#"conclave_ds_http_requests_total{route="/metrics",method="GET",status="200"} 1"#],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websockets_and_their_wakeups_are_counted() {
    let (store, _dir) = sqlite_store();
    let api = Api::new(store);
    let mut rng = rng();
    let now = api.clock.now();
    let alice_id = unique("alice");
    let alice = identity(&alice_id, &mut rng);
    let token = api.register_and_login(&alice_id, &alice).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(conclave_ds::serve(
        listener,
        api.state.clone(),
        Duration::from_secs(3600),
        async move {
            let _ = stopped.await;
        },
    ));
    let mut socket = common::ws_connect(&format!("ws://{addr}/v1/ws"), &token)
        .await
        .unwrap();

    let gid_bytes = unique("g").into_bytes();
    let gid = hex::encode(&gid_bytes);
    let mut group = Group::create(
        MemberParams::new(env(), alice.clone()),
        NewGroup::new(SUITE, gid_bytes),
        now,
        &mut rng,
    )
    .unwrap();
    api.post_json(
        "/v1/groups",
        Some(&token),
        serde_json::json!({"group_id": gid}),
    )
    .await;
    for _ in 0..2 {
        let m = group
            .encrypt_application_message(b"ping", b"", &mut rng)
            .unwrap();
        assert_eq!(
            api.post_message(&token, &gid, &m).await.status,
            StatusCode::OK
        );
        tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("no wake-up")
            .unwrap()
            .unwrap();
    }
    let text = metrics(&api).await;
    assert_lines(
        &text,
        &[
            "conclave_ds_websockets_open 1",
            "conclave_ds_websocket_wakeups_total 2",
            r#"conclave_ds_http_requests_total{route="/v1/ws",method="GET",status="101"} 1"#,
        ],
    );

    // Closing the socket closes the gauge too.
    drop(socket);
    let mut closed = false;
    for _ in 0..100 {
        if metrics(&api)
            .await
            .lines()
            .any(|l| l == "conclave_ds_websockets_open 0")
        {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(closed, "the gauge still counts the closed WebSocket");
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server did not stop")
        .unwrap()
        .unwrap();
}
