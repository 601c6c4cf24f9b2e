"""What every SQL backend of the store shares: the tables, the row mapping and the queries.

A backend (`store.sqlite` today) brings the engine, its connection settings and the few
statements its dialect spells its own way; everything else is written here once.
"""
