CREATE TABLE runners (runner_id INTEGER PRIMARY KEY, first_name TEXT, last_name TEXT, birth_year INTEGER, country TEXT, club TEXT);
CREATE TABLE races (race_id INTEGER PRIMARY KEY, race_name TEXT NOT NULL, city TEXT, race_date TEXT, distance_km REAL);
CREATE TABLE results (result_id INTEGER PRIMARY KEY, race_id INTEGER REFERENCES races(race_id), runner_id INTEGER REFERENCES runners(runner_id), finish_seconds INTEGER, place INTEGER, dnf INTEGER DEFAULT 0);
