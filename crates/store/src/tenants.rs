//! Organizations, access tokens and API keys. Tokens and keys are stored only as hashes.

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{new_id, now_ms, ApiKeyRow, Org, Role, Store, StoreError, TokenRow};

fn token_row(r: &AnyRow) -> Result<TokenRow, StoreError> {
    let role: String = r.try_get("role")?;
    Ok(TokenRow {
        id: r.try_get("id")?,
        org_id: r.try_get("org_id")?,
        name: r.try_get("name")?,
        role: Role::parse(&role)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role}")))?,
        created_at: r.try_get("created_at")?,
    })
}

impl Store {
    pub async fn org_by_name(&self, name: &str) -> Result<Option<Org>, StoreError> {
        self.org_where("name", name).await
    }

    pub async fn org(&self, id: &str) -> Result<Option<Org>, StoreError> {
        self.org_where("id", id).await
    }

    async fn org_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<Org>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT id, name, created_at FROM orgs WHERE {column} = $1"
        ))
        .bind(value.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Org {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Creates an organization with its first admin token (hash given), atomically.
    pub async fn create_org(
        &self,
        name: &str,
        token_name: &str,
        token_hash: &str,
    ) -> Result<(Org, TokenRow), StoreError> {
        let org = Org {
            id: new_id(),
            name: name.to_string(),
            created_at: now_ms(),
        };
        let token = TokenRow {
            id: new_id(),
            org_id: org.id.clone(),
            name: token_name.to_string(),
            role: Role::Admin,
            created_at: org.created_at,
        };
        let (o, t, hash) = (org.clone(), token.clone(), token_hash.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let exists = sqlx::query("SELECT 1 FROM orgs WHERE name = $1")
                    .bind(o.name.clone())
                    .fetch_optional(&mut *c)
                    .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "an organization named `{}` exists already",
                        o.name
                    )));
                }
                sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(o.id)
                    .bind(o.name)
                    .bind(o.created_at)
                    .execute(&mut *c)
                    .await?;
                insert_token(c, &t, &hash).await
            })
        })
        .await?;
        Ok((org, token))
    }

    pub async fn create_token(
        &self,
        org_id: &str,
        name: &str,
        role: Role,
        hash: &str,
    ) -> Result<TokenRow, StoreError> {
        let token = TokenRow {
            id: new_id(),
            org_id: org_id.to_string(),
            name: name.to_string(),
            role,
            created_at: now_ms(),
        };
        let (t, hash) = (token.clone(), hash.to_string());
        self.write(move |c| Box::pin(async move { insert_token(c, &t, &hash).await }))
            .await?;
        Ok(token)
    }

    /// Makes sure the bootstrap admin token (by hash) exists in the organization; idempotent.
    pub async fn ensure_bootstrap_token(&self, org_id: &str, hash: &str) -> Result<(), StoreError> {
        let (org, hash) = (org_id.to_string(), hash.to_string());
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO tokens (id, org_id, name, role, hash, bootstrap, created_at) VALUES ($1, $2, 'bootstrap', 'admin', $3, 1, $4) ON CONFLICT (hash) DO NOTHING")
                    .bind(new_id())
                    .bind(org)
                    .bind(hash)
                    .bind(now_ms())
                    .execute(&mut *c)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    /// Whether the token with this id is the bootstrap admin (who may create organizations).
    pub async fn is_bootstrap_token(&self, id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT bootstrap FROM tokens WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64, _>("bootstrap"))
            .transpose()?
            .unwrap_or(0)
            == 1)
    }

    /// Creates an organization if no organization has this name; returns it either way.
    pub async fn ensure_org(&self, name: &str) -> Result<Org, StoreError> {
        if let Some(org) = self.org_by_name(name).await? {
            return Ok(org);
        }
        let org = Org {
            id: new_id(),
            name: name.to_string(),
            created_at: now_ms(),
        };
        let o = org.clone();
        self.write(move |c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO orgs (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING").bind(o.id).bind(o.name).bind(o.created_at).execute(&mut *c).await?;
                Ok(())
            })
        })
        .await?;
        self.org_by_name(name).await?.ok_or(StoreError::NotFound)
    }

    /// Whether this hash is the hash of any API key (of any organization).
    pub async fn api_key_hash_exists(&self, hash: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM api_keys WHERE hash = $1")
            .bind(hash.to_string())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// The token with this hash, with its organization.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRow>, StoreError> {
        let row =
            sqlx::query("SELECT id, org_id, name, role, created_at FROM tokens WHERE hash = $1")
                .bind(hash.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(token_row).transpose()
    }

    pub async fn token_by_id(&self, id: &str) -> Result<Option<TokenRow>, StoreError> {
        let row =
            sqlx::query("SELECT id, org_id, name, role, created_at FROM tokens WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(token_row).transpose()
    }

    pub async fn list_tokens(&self, org_id: &str) -> Result<Vec<TokenRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, org_id, name, role, created_at FROM tokens WHERE org_id = $1 ORDER BY id",
        )
        .bind(org_id.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_row).collect()
    }

    pub async fn delete_token(&self, org_id: &str, id: &str) -> Result<(), StoreError> {
        self.change_one(
            "DELETE FROM tokens WHERE org_id = $1 AND id = $2",
            org_id,
            id,
        )
        .await
    }

    pub async fn count_tokens(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM tokens")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    pub async fn create_api_key(
        &self,
        org_id: &str,
        name: &str,
        hash: &str,
    ) -> Result<ApiKeyRow, StoreError> {
        let key = ApiKeyRow {
            name: name.to_string(),
            created_at: now_ms(),
        };
        let (org, k, hash) = (org_id.to_string(), key.clone(), hash.to_string());
        self.write(move |c| {
            Box::pin(async move {
                let exists = sqlx::query("SELECT 1 FROM api_keys WHERE org_id = $1 AND name = $2")
                    .bind(org.clone())
                    .bind(k.name.clone())
                    .fetch_optional(&mut *c)
                    .await?;
                if exists.is_some() {
                    return Err(StoreError::Conflict(format!(
                        "an API key named `{}` exists already",
                        k.name
                    )));
                }
                sqlx::query(
                    "INSERT INTO api_keys (org_id, name, hash, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(org)
                .bind(k.name)
                .bind(hash)
                .bind(k.created_at)
                .execute(&mut *c)
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(key)
    }

    pub async fn list_api_keys(&self, org_id: &str) -> Result<Vec<ApiKeyRow>, StoreError> {
        let rows =
            sqlx::query("SELECT name, created_at FROM api_keys WHERE org_id = $1 ORDER BY name")
                .bind(org_id.to_string())
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(ApiKeyRow {
                    name: r.try_get("name")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// The stored hash of an API key, if the key exists.
    pub async fn api_key_hash(
        &self,
        org_id: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let cache = &self.cache;
        if let Some(hit) = cache.api_key(org_id, name) {
            return Ok(hit);
        }
        let generation = cache.generation();
        let hash = self.api_key_hash_uncached(org_id, name).await?;
        cache.put_api_key(generation, org_id, name, hash.clone());
        Ok(hash)
    }

    async fn api_key_hash_uncached(
        &self,
        org_id: &str,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT hash FROM api_keys WHERE org_id = $1 AND name = $2")
            .bind(org_id.to_string())
            .bind(name.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.try_get("hash")).transpose()?)
    }

    pub async fn delete_api_key(&self, org_id: &str, name: &str) -> Result<(), StoreError> {
        self.change_one(
            "DELETE FROM api_keys WHERE org_id = $1 AND name = $2",
            org_id,
            name,
        )
        .await
    }
}

async fn insert_token(
    c: &mut sqlx::AnyConnection,
    t: &TokenRow,
    hash: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO tokens (id, org_id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(t.id.clone())
        .bind(t.org_id.clone())
        .bind(t.name.clone())
        .bind(t.role.as_str())
        .bind(hash.to_string())
        .bind(t.created_at)
        .execute(c)
        .await?;
    Ok(())
}
