"""The contacts plugin: companies, contacts, their timeline of interactions, tasks, duplicates and merging."""
