"""Replication: an eventually consistent key-value store on an ORSWOT CRDT with HLC timestamps."""
