CREATE TABLE galleries (
  gallery_id INTEGER PRIMARY KEY,
  gallery_name VARCHAR(80),
  floor INTEGER
);
CREATE TABLE exhibits (
  exhibit_id INTEGER PRIMARY KEY,
  gallery_id INTEGER,
  exhibit_title VARCHAR(150),
  curator VARCHAR(80),
  opens DATE,
  closes DATE,
  FOREIGN KEY (gallery_id) REFERENCES galleries (gallery_id)
);
CREATE TABLE tickets (
  ticket_id INTEGER PRIMARY KEY,
  exhibit_id INTEGER REFERENCES exhibits (exhibit_id),
  visit_date DATE,
  visitor_category VARCHAR(20),
  price DECIMAL(6,2)
);
