-- How the patient portal is used, by day: counts only (look-ups found and
-- not found, refused by the limits, notices, letters and access reports
-- viewed, monitoring codes shown, reports, subscriptions, surveys). No
-- person, code or address: these are what the console charts.
CREATE TABLE portal_stats (
    day    BIGINT NOT NULL, -- unix seconds of the day's 00:00 UTC
    metric TEXT NOT NULL,
    n      BIGINT NOT NULL,
    PRIMARY KEY (day, metric)
);
