{{ mailroom.quarantine_model([['crm_contacts', 'base_crm__contacts', 'contact_id']]) }}
