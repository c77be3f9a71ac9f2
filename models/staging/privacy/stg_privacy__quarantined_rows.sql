{{ mailroom.quarantine_model([['privacy_consent_events', 'base_privacy__consent_events', 'consent_event_id'], ['privacy_erasure_requests', 'base_privacy__erasure_requests', 'request_id']]) }}
