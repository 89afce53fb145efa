-- The museum's kiosk database: seven tables, plus the catalogue's landing table and the rejects table.
-- Idempotent: running it again changes nothing. event_at is timestamptz, so summer events keep their instant.

CREATE TABLE IF NOT EXISTS department (
    department_id   smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    department_name varchar(100) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS floor (
    floor_id   smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    floor_name varchar(20) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS exhibition (
    exhibition_id          smallint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exhibition_public_id   varchar(10)  NOT NULL UNIQUE,   -- EXH_00 .. : the id the kiosks' sites map to
    exhibition_name        varchar(100) NOT NULL,
    department_id          smallint     NOT NULL REFERENCES department (department_id),
    floor_id               smallint     NOT NULL REFERENCES floor (floor_id),
    exhibition_start_date  date         NOT NULL,
    exhibition_description text         NOT NULL
);

CREATE TABLE IF NOT EXISTS rating (
    rating_id          smallint PRIMARY KEY CHECK (rating_id BETWEEN 0 AND 4),  -- the kiosk's val
    rating_description varchar(20) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS request (
    request_id          smallint PRIMARY KEY CHECK (request_id IN (0, 1)),     -- the kiosk's type
    request_description varchar(20) NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS rating_interaction (
    rating_interaction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exhibition_id         smallint    NOT NULL REFERENCES exhibition (exhibition_id),
    rating_id             smallint    NOT NULL REFERENCES rating (rating_id),
    event_at              timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS request_interaction (
    request_interaction_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exhibition_id          smallint    NOT NULL REFERENCES exhibition (exhibition_id),
    request_id             smallint    NOT NULL REFERENCES request (request_id),
    event_at               timestamptz NOT NULL
);

-- Each row's coordinates in the topic, under a unique key: a re-read (a position moved back with `lmnh-pipes offsets
-- --reset`) meets rows it wrote before and skips them (the pipeline's on_conflict: nothing), and `lmnh-pipes audit`
-- can account for every offset. Nullable, so that rows written before these columns existed stay as they are.
ALTER TABLE rating_interaction ADD COLUMN IF NOT EXISTS kafka_topic text;
ALTER TABLE rating_interaction ADD COLUMN IF NOT EXISTS kafka_partition integer;
ALTER TABLE rating_interaction ADD COLUMN IF NOT EXISTS kafka_offset bigint;
CREATE UNIQUE INDEX IF NOT EXISTS rating_interaction_kafka_key
    ON rating_interaction (kafka_topic, kafka_partition, kafka_offset);
ALTER TABLE request_interaction ADD COLUMN IF NOT EXISTS kafka_topic text;
ALTER TABLE request_interaction ADD COLUMN IF NOT EXISTS kafka_partition integer;
ALTER TABLE request_interaction ADD COLUMN IF NOT EXISTS kafka_offset bigint;
CREATE UNIQUE INDEX IF NOT EXISTS request_interaction_kafka_key
    ON request_interaction (kafka_topic, kafka_partition, kafka_offset);

INSERT INTO rating (rating_id, rating_description) VALUES
    (0, 'Terrible'), (1, 'Bad'), (2, 'Neutral'), (3, 'Good'), (4, 'Amazing')
ON CONFLICT DO NOTHING;

INSERT INTO request (request_id, request_description) VALUES
    (0, 'Assistance'), (1, 'Emergency')
ON CONFLICT DO NOTHING;

-- Every rejected message, with the rule that refused it, its original bytes, key and timestamp, so that
-- `lmnh-pipes replay` can run it again once the cause is fixed; replays counts the replays that still refused it.
CREATE TABLE IF NOT EXISTS kiosk_reject (
    kiosk_reject_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic           text        NOT NULL,
    "partition"     integer     NOT NULL,
    "offset"        bigint      NOT NULL,
    validator       text        NOT NULL,
    rule            text        NOT NULL,
    reason          text        NOT NULL,
    raw             bytea       NOT NULL,
    key             bytea,
    "timestamp"     timestamptz,
    replays         integer     NOT NULL DEFAULT 0,
    rejected_at     timestamptz NOT NULL DEFAULT now()
);
-- A table made by an earlier version of this file gains the replay columns.
ALTER TABLE kiosk_reject ADD COLUMN IF NOT EXISTS key bytea;
ALTER TABLE kiosk_reject ADD COLUMN IF NOT EXISTS "timestamp" timestamptz;
ALTER TABLE kiosk_reject ADD COLUMN IF NOT EXISTS replays integer NOT NULL DEFAULT 0;
-- One reject per coordinate, as for the rows above. On a table that already holds a message's reject twice (from an
-- at-least-once pipeline), delete the later copies first: docs/audit.md shows how.
CREATE UNIQUE INDEX IF NOT EXISTS kiosk_reject_coordinates ON kiosk_reject (topic, "partition", "offset");

-- The exhibition files land here as they are (catalogue.yaml upserts them by id); the trigger keeps
-- department, floor and exhibition in step, so loading the catalogue twice changes nothing.
CREATE TABLE IF NOT EXISTS exhibition_file (
    exhibition_public_id varchar(10) PRIMARY KEY,
    exhibition_name      text NOT NULL,
    floor_name           text NOT NULL,
    department_name      text NOT NULL,
    start_date           text NOT NULL,   -- dd/mm/yy, as in the files
    description          text NOT NULL
);

CREATE OR REPLACE FUNCTION exhibition_file_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO department (department_name) VALUES (NEW.department_name) ON CONFLICT DO NOTHING;
    INSERT INTO floor (floor_name) VALUES (NEW.floor_name) ON CONFLICT DO NOTHING;
    INSERT INTO exhibition (exhibition_public_id, exhibition_name, department_id, floor_id,
                            exhibition_start_date, exhibition_description)
    SELECT NEW.exhibition_public_id, NEW.exhibition_name, d.department_id, f.floor_id,
           to_date(NEW.start_date, 'DD/MM/YY'), NEW.description
    FROM department d, floor f
    WHERE d.department_name = NEW.department_name AND f.floor_name = NEW.floor_name
    ON CONFLICT (exhibition_public_id) DO UPDATE SET
        exhibition_name = EXCLUDED.exhibition_name,
        department_id = EXCLUDED.department_id,
        floor_id = EXCLUDED.floor_id,
        exhibition_start_date = EXCLUDED.exhibition_start_date,
        exhibition_description = EXCLUDED.exhibition_description;
    RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS exhibition_file_sync ON exhibition_file;
CREATE TRIGGER exhibition_file_sync AFTER INSERT OR UPDATE ON exhibition_file
    FOR EACH ROW EXECUTE FUNCTION exhibition_file_sync();
