CREATE TABLE events (
    event_id INT NOT NULL,
    title VARCHAR(200),
    venue VARCHAR(100),
    starts_on DATE,
    ends_on DATE,
    PRIMARY KEY (event_id)
);
CREATE TABLE speakers (
    speaker_id INT NOT NULL,
    name VARCHAR(120),
    company VARCHAR(120),
    country VARCHAR(60),
    PRIMARY KEY (speaker_id)
);
CREATE TABLE talks (
    talk_id INT NOT NULL,
    event_id INT NOT NULL,
    speaker_id INT NOT NULL,
    talk_title VARCHAR(200),
    track VARCHAR(40),
    duration_min INT,
    PRIMARY KEY (talk_id),
    FOREIGN KEY (event_id) REFERENCES events(event_id),
    FOREIGN KEY (speaker_id) REFERENCES speakers(speaker_id)
);
CREATE TABLE registrations (
    registration_id INT NOT NULL,
    event_id INT NOT NULL,
    attendee_email VARCHAR(150),
    ticket_type VARCHAR(20),
    price_paid DECIMAL(8,2),
    registered_at TIMESTAMP,
    PRIMARY KEY (registration_id),
    FOREIGN KEY (event_id) REFERENCES events(event_id)
);
