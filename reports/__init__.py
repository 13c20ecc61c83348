"""Ad-hoc pandas reports over the Parquet archive of every event."""
