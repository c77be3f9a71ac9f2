{{ mailroom.quarantine_model([['web_events', 'base_web__events', 'event_id']]) }}
