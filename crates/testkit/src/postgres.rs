//! The test PostgreSQL server and fresh databases on it.

/// The URL of the test PostgreSQL server (`CONCLAVE_TEST_POSTGRES_URL`), or `None` — which
/// fails the test under CI, see [`crate::skip`].
pub fn server_url() -> Option<String> {
    match std::env::var("CONCLAVE_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            crate::skip("CONCLAVE_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// Runs `sql` on the database at `url`, on a thread and runtime of its own (so that it works
/// from synchronous and asynchronous tests alike).
pub fn execute(url: &str, sql: &str) {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
            let driver = tokio::spawn(connection);
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .unwrap();
}

/// A fresh, empty database on the test server, dropped (with its connections) with the
/// value.
#[derive(Debug)]
pub struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a database named `<prefix>_<random>` on the server at `server`.
    pub fn create(server: &str, prefix: &str) -> Self {
        let name = crate::unique(prefix).to_ascii_lowercase().replace('-', "_");
        execute(server, &format!("CREATE DATABASE {name}"));
        let url = match server.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("unexpected PostgreSQL URL {server}"),
        };
        Self {
            server: server.to_owned(),
            name,
            url,
        }
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        execute(
            &self.server,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}
