//! Shared by the store's test binaries: a fresh PostgreSQL database when the tests have a server.

/// Creates a database with a fresh name on the server `FLOWGATE_TEST_POSTGRES_URL` names and
/// returns its URL; `None` when no server is given.
pub async fn fresh_postgres_database() -> Option<String> {
    let admin = std::env::var("FLOWGATE_TEST_POSTGRES_URL").ok()?;
    let name = format!("t_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
        .await
        .unwrap();
    sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    match admin.rfind('/') {
        Some(i) => Some(format!("{}/{name}", &admin[..i])),
        None => panic!("FLOWGATE_TEST_POSTGRES_URL needs a database path"),
    }
}
