"""Pure delivery rules: no I/O, no framework; facts and a clock in, decisions out."""
