CREATE TABLE sites (site_id INT PRIMARY KEY, site_name VARCHAR(100), city VARCHAR(50), budget DECIMAL(14,2), start_date DATE, status VARCHAR(20));
CREATE TABLE contractors (contractor_id INT PRIMARY KEY, company_name VARCHAR(100), trade VARCHAR(40), licensed BOOLEAN);
CREATE TABLE assignments (assignment_id INT PRIMARY KEY, site_id INT, contractor_id INT, contract_value DECIMAL(12,2), signed_on DATE, FOREIGN KEY (site_id) REFERENCES sites(site_id), FOREIGN KEY (contractor_id) REFERENCES contractors(contractor_id));
CREATE TABLE inspections (inspection_id INT PRIMARY KEY, site_id INT REFERENCES sites(site_id), inspected_on DATE, inspector VARCHAR(80), passed BOOLEAN, violations INT);
