CREATE TABLE vineyards (
  vineyard_id INTEGER PRIMARY KEY,
  vineyard_name TEXT NOT NULL,
  region TEXT,
  hectares REAL
);
CREATE TABLE wines (
  wine_id INTEGER PRIMARY KEY,
  vineyard_id INTEGER NOT NULL REFERENCES vineyards(vineyard_id),
  label TEXT,
  grape TEXT,
  vintage INTEGER,
  bottle_price NUMERIC(8,2),
  bottles_in_stock INTEGER
);
CREATE TABLE tastings (
  tasting_id INTEGER PRIMARY KEY,
  wine_id INTEGER NOT NULL REFERENCES wines(wine_id),
  critic TEXT,
  score INTEGER,
  tasted_on DATE
);
