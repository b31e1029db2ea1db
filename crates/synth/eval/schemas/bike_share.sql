CREATE TABLE stations (station_id INTEGER PRIMARY KEY, station_name VARCHAR(100), neighborhood VARCHAR(60), docks INTEGER);
CREATE TABLE bikes (bike_id INTEGER PRIMARY KEY, bike_type VARCHAR(20), in_service BOOLEAN, purchased DATE);
CREATE TABLE rides (ride_id INTEGER PRIMARY KEY, bike_id INTEGER REFERENCES bikes(bike_id), start_station_id INTEGER REFERENCES stations(station_id), end_station_id INTEGER REFERENCES stations(station_id), started_at DATETIME, ended_at DATETIME, member_type VARCHAR(10), distance_km REAL);
