"""Result storage in PostgreSQL: the schema and its migration."""
