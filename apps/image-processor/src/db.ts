import pg from "pg";
import type { Image, NewImage } from "./images.ts";

/**
 * Schema changes, applied in order once each. Append only: a migration that ran somewhere must
 * never change, or databases created before and after would differ.
 */
export const MIGRATIONS: readonly { readonly id: number; readonly sql: string }[] = [
  {
    id: 1,
    sql: `CREATE TABLE images (
      id uuid PRIMARY KEY,
      name text NOT NULL,
      title text NOT NULL,
      format text NOT NULL CHECK (format IN ('png', 'jpeg', 'gif', 'webp')),
      width integer NOT NULL CHECK (width > 0),
      height integer NOT NULL CHECK (height > 0),
      owner text NOT NULL,
      name_source text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`,
  },
  { id: 2, sql: `CREATE INDEX images_created_at ON images (created_at DESC)` },
];

// Any constant works; it only has to be the same in every replica so they migrate one at a time.
const MIGRATION_LOCK = 4_242_001;

/** Applies pending migrations in one transaction under an advisory lock; returns the ids applied. */
export async function migrate(pool: pg.Pool): Promise<number[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      "CREATE TABLE IF NOT EXISTS schema_migrations (id integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    );
    const done = new Set(
      (await client.query<{ id: number }>("SELECT id FROM schema_migrations")).rows.map((row) => row.id),
    );
    const applied: number[] = [];
    for (const migration of MIGRATIONS) {
      if (done.has(migration.id)) continue;
      await client.query(migration.sql);
      await client.query("INSERT INTO schema_migrations (id) VALUES ($1)", [migration.id]);
      applied.push(migration.id);
    }
    await client.query("COMMIT");
    return applied;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

interface ImageRow {
  id: string;
  name: string;
  title: string;
  format: Image["format"];
  width: number;
  height: number;
  owner: string;
  name_source: string;
  created_at: Date;
  updated_at: Date;
}

export function imageFromRow(row: ImageRow): Image {
  return {
    id: row.id,
    name: row.name,
    title: row.title,
    format: row.format,
    width: row.width,
    height: row.height,
    owner: row.owner,
    nameSource: row.name_source,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const COLUMNS = "id, name, title, format, width, height, owner, name_source, created_at, updated_at";

export async function insertImage(
  pool: pg.Pool,
  image: NewImage & { id: string; name: string; owner: string; nameSource: string },
): Promise<Image> {
  const { rows } = await pool.query<ImageRow>(
    `INSERT INTO images (id, name, title, format, width, height, owner, name_source)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [
      image.id,
      image.name,
      image.title,
      image.format,
      image.width,
      image.height,
      image.owner,
      image.nameSource,
    ],
  );
  return imageFromRow(rows[0] as ImageRow);
}

/** Updates the given fields; undefined when no image has that id. */
export async function updateImage(
  pool: pg.Pool,
  id: string,
  changes: Partial<NewImage>,
): Promise<Image | undefined> {
  const { rows } = await pool.query<ImageRow>(
    `UPDATE images SET
       title = COALESCE($2, title), format = COALESCE($3, format),
       width = COALESCE($4, width), height = COALESCE($5, height), updated_at = now()
     WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, changes.title ?? null, changes.format ?? null, changes.width ?? null, changes.height ?? null],
  );
  return rows[0] ? imageFromRow(rows[0]) : undefined;
}

export async function deleteImage(pool: pg.Pool, id: string): Promise<boolean> {
  const { rowCount } = await pool.query("DELETE FROM images WHERE id = $1", [id]);
  return (rowCount ?? 0) > 0;
}

export async function listImages(pool: pg.Pool, limit: number): Promise<Image[]> {
  const { rows } = await pool.query<ImageRow>(
    `SELECT ${COLUMNS} FROM images ORDER BY created_at DESC LIMIT $1`,
    [limit],
  );
  return rows.map(imageFromRow);
}
