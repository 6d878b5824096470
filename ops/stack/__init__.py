"""The local stack: a project-local RabbitMQ node and PostgreSQL cluster on loopback."""
