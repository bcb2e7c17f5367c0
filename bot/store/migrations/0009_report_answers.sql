-- Answers to the category questions (data/categories.toml), one row per question answered, canonical values:
-- yes/no, a value key, value keys joined by commas, a plain number, or words. Written with the report.
CREATE TABLE report_answers (
    report_id  INTEGER NOT NULL REFERENCES reports(id),
    question   TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (report_id, question)
);
