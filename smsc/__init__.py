"""The SMSC callback protocol: decoding, typed models, signatures and code tables. Pure: no I/O."""
