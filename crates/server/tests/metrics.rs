//! `GET /metrics` where the services are put together: the `conclave-ds` and `conclave-as`
//! binaries, `conclave-ds --with-as` and the devnet (one registry for the DS and the AS).

// Test code: a panic is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use conclave_testkit::process::Process;

/// `GET base + path`: the status and the body.
async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::get(format!("{base}{path}")).await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
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

#[tokio::test]
async fn the_binaries_serve_their_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let ds_db = format!("sqlite:{}", dir.path().join("ds.db").display());
    let as_db = format!("sqlite:{}", dir.path().join("as.db").display());
    let token_file = dir.path().join("admin-token").display().to_string();

    let ds = Process::start(
        env!("CARGO_BIN_EXE_conclave-ds"),
        &["--listen", "127.0.0.1:0", "--database", &ds_db],
        &[],
    );
    assert_eq!(get(&ds.base, "/v1/health").await.0, 200);
    let (status, text) = get(&ds.base, "/metrics").await;
    assert_eq!(status, 200);
    assert_lines(
        &text,
        &[
            r#"conclave_ds_http_requests_total{route="/v1/health",method="GET",status="200"} 1"#,
            "conclave_ds_commits_accepted_total 0",
        ],
    );
    drop(ds);

    let auth = Process::start(
        env!("CARGO_BIN_EXE_conclave-as"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &as_db,
            "--admin-token-file",
            &token_file,
        ],
        &[],
    );
    assert_eq!(get(&auth.base, "/v1/as/root").await.0, 200);
    let (status, text) = get(&auth.base, "/metrics").await;
    assert_eq!(status, 200);
    assert_lines(
        &text,
        &[
            r#"conclave_as_http_requests_total{route="/v1/as/root",method="GET",status="200"} 1"#,
            "conclave_as_enrolments_total 0",
        ],
    );
    drop(auth);

    // With the AS in the DS's process: one registry, both services' metrics.
    let both = Process::start(
        env!("CARGO_BIN_EXE_conclave-ds"),
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &ds_db,
            "--with-as",
            "--as-database",
            &as_db,
            "--as-admin-token-file",
            &token_file,
        ],
        &[],
    );
    assert_eq!(get(&both.base, "/v1/as/root").await.0, 200);
    assert_eq!(get(&both.base, "/v1/health").await.0, 200);
    let (_, text) = get(&both.base, "/metrics").await;
    assert_lines(
        &text,
        &[
            r#"conclave_ds_http_requests_total{route="/v1/health",method="GET",status="200"} 1"#,
            r#"conclave_as_http_requests_total{route="/v1/as/root",method="GET",status="200"} 1"#,
        ],
    );
}

#[tokio::test]
async fn the_devnet_serves_the_metrics_of_both_services() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = conclave_server::Devnet::start(&conclave_server::DevnetOptions::new(dir.path()))
        .await
        .unwrap();
    let base = devnet.info.ds_url.clone();
    assert_eq!(get(&base, "/v1/health").await.0, 200);
    assert_eq!(get(&base, "/v1/as/root").await.0, 200);
    let (status, text) = get(&base, "/metrics").await;
    assert_eq!(status, 200);
    assert_lines(
        &text,
        &[
            r#"conclave_ds_http_requests_total{route="/v1/health",method="GET",status="200"} 1"#,
            r#"conclave_as_http_requests_total{route="/v1/as/root",method="GET",status="200"} 1"#,
            "conclave_as_revocations_total 0",
        ],
    );
    devnet.shutdown().await.unwrap();
}
