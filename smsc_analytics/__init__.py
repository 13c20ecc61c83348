"""Wiring the stages into one program: the `smsc-analytics` command line."""
