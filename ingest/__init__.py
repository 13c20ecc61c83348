"""The ingest service: the HTTP endpoint that stores every SMSC callback in Kafka before it answers 200."""
