CREATE TABLE subscribers (subscriber_id INTEGER PRIMARY KEY, email VARCHAR(255) UNIQUE NOT NULL, first_name VARCHAR(50), signup_date DATE, plan VARCHAR(20), referred_by INTEGER REFERENCES subscribers(subscriber_id));
CREATE TABLE boxes (box_id INTEGER PRIMARY KEY, theme VARCHAR(60), ship_month TEXT, cost_to_make DECIMAL(7,2));
CREATE TABLE deliveries (delivery_id INTEGER PRIMARY KEY, subscriber_id INTEGER NOT NULL REFERENCES subscribers(subscriber_id), box_id INTEGER NOT NULL REFERENCES boxes(box_id), delivered_on DATE, rating SMALLINT, returned BOOLEAN DEFAULT 0);
