CREATE TABLE stores (
  store_id INTEGER PRIMARY KEY,
  store_name VARCHAR(80) NOT NULL,
  city VARCHAR(50),
  opened_date DATE,
  seats INT
);
CREATE TABLE baristas (
  barista_id INTEGER PRIMARY KEY,
  store_id INTEGER REFERENCES stores(store_id),
  full_name VARCHAR(100) NOT NULL,
  hired_on DATE,
  hourly_wage DECIMAL(6,2)
);
CREATE TABLE drinks (
  drink_id INTEGER PRIMARY KEY,
  drink_name VARCHAR(60) NOT NULL,
  size VARCHAR(10),
  price DECIMAL(5,2),
  is_seasonal BOOLEAN DEFAULT FALSE
);
CREATE TABLE sales (
  sale_id INTEGER PRIMARY KEY,
  store_id INTEGER NOT NULL,
  barista_id INTEGER,
  drink_id INTEGER NOT NULL,
  sold_at TIMESTAMP,
  quantity INT DEFAULT 1,
  FOREIGN KEY (store_id) REFERENCES stores(store_id),
  FOREIGN KEY (barista_id) REFERENCES baristas(barista_id),
  FOREIGN KEY (drink_id) REFERENCES drinks(drink_id)
);
