//! The appearances table: each member's chosen look, by key.

use archipelago_shared::avatars::Appearance;
use sqlx::Row;

use crate::storage::{Storage, StorageError};

/// The columns a row of `appearances` is read from.
const APPEARANCE_COLUMNS: &str =
    "version, body, height, skin, hair, hair_colour, outfit_top, outfit_bottom, accessory";

impl Storage {
    /// The look `public_key` chose, if it chose one. A stored look that no longer passes the
    /// checks (a palette shrank, the file was edited) is reported as corrupt, not worn.
    pub async fn appearance(&self, public_key: &str) -> Result<Option<Appearance>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {APPEARANCE_COLUMNS} FROM appearances WHERE public_key = ?"
        ))
        .bind(public_key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let index = |column: &str| -> Result<u8, StorageError> {
            let value: i64 = row.try_get(column)?;
            u8::try_from(value)
                .map_err(|_| StorageError::Corrupt(format!("appearance {column} = {value}")))
        };
        let appearance = Appearance {
            version: index("version")?,
            body: index("body")?,
            height: index("height")?,
            skin: index("skin")?,
            hair: index("hair")?,
            hair_colour: index("hair_colour")?,
            outfit: [index("outfit_top")?, index("outfit_bottom")?],
            accessory: index("accessory")?,
        };
        appearance.check().map_err(|bad| {
            StorageError::Corrupt(format!("the appearance of {public_key}: {bad}"))
        })?;
        Ok(Some(appearance))
    }

    /// Keeps `appearance` (already checked) as the look of `public_key`.
    pub async fn set_appearance(
        &self,
        public_key: &str,
        appearance: &Appearance,
    ) -> Result<(), StorageError> {
        sqlx::query(&format!(
            "INSERT INTO appearances (public_key, {APPEARANCE_COLUMNS}, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (public_key) DO UPDATE SET version = excluded.version,
               body = excluded.body, height = excluded.height, skin = excluded.skin,
               hair = excluded.hair, hair_colour = excluded.hair_colour,
               outfit_top = excluded.outfit_top, outfit_bottom = excluded.outfit_bottom,
               accessory = excluded.accessory, updated_at = excluded.updated_at"
        ))
        .bind(public_key)
        .bind(appearance.version)
        .bind(appearance.body)
        .bind(appearance.height)
        .bind(appearance.skin)
        .bind(appearance.hair)
        .bind(appearance.hair_colour)
        .bind(appearance.outfit[0])
        .bind(appearance.outfit[1])
        .bind(appearance.accessory)
        .bind(self.now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_look_is_kept_by_key_and_a_tampered_one_is_reported() {
        let dir =
            std::env::temp_dir().join(format!("archipelago-looks-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(looks_are_kept(&dir));
        std::fs::remove_dir_all(&dir).ok();
    }

    async fn looks_are_kept(dir: &std::path::Path) {
        let db = Storage::open(dir).await.unwrap();
        assert_eq!(db.appearance("aa").await.unwrap(), None);
        let look = Appearance::from_seed(3);
        db.set_appearance("aa", &look).await.unwrap();
        let other = Appearance::from_seed(4);
        db.set_appearance("aa", &other).await.unwrap();
        assert_eq!(db.appearance("aa").await.unwrap(), Some(other));
        assert_eq!(db.appearance("bb").await.unwrap(), None);
        sqlx::query("UPDATE appearances SET skin = 200 WHERE public_key = 'aa'")
            .execute(&db.pool)
            .await
            .unwrap();
        assert!(matches!(
            db.appearance("aa").await,
            Err(StorageError::Corrupt(_))
        ));
    }
}
